import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MicroBatcher } from '../../src/stream/micro-batcher.js';
import { isClipnError } from '../../src/errors.js';

test('full batches run at maxBatch without waiting', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher<number, number>({ maxBatch: 4, maxWaitMs: 60_000 }, async (xs) => {
    sizes.push(xs.length);
    return xs.map((x) => x * 2);
  });
  const out = await Promise.all([1, 2, 3, 4, 5, 6, 7, 8].map((x) => batcher.submit(x)));
  assert.deepEqual(out, [2, 4, 6, 8, 10, 12, 14, 16]);
  assert.deepEqual(sizes, [4, 4]);
});

test('a partial batch runs without waiting to fill up', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher<string, string>({ maxBatch: 8, maxWaitMs: 5 }, async (xs) => {
    sizes.push(xs.length);
    return xs.map((x) => x.toUpperCase());
  });
  const out = await Promise.all(['a', 'b', 'c'].map((x) => batcher.submit(x)));
  assert.deepEqual(out, ['A', 'B', 'C']);
  assert.deepEqual(sizes, [3]);
});

test('items arriving during a run form the next batch', async () => {
  const sizes: number[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const batcher = new MicroBatcher<number, number>({ maxBatch: 2, maxWaitMs: 1 }, async (xs) => {
    sizes.push(xs.length);
    if (sizes.length === 1) await gate;
    return xs;
  });
  const first = [batcher.submit(1), batcher.submit(2)];
  const later = [batcher.submit(3), batcher.submit(4), batcher.submit(5)];
  release();
  assert.deepEqual(await Promise.all([...first, ...later]), [1, 2, 3, 4, 5]);
  assert.deepEqual(sizes, [2, 2, 1]);
});

test('a failing batch rejects only its own items', async () => {
  const batcher = new MicroBatcher<number, number>({ maxBatch: 2, maxWaitMs: 0 }, async (xs) => {
    if (xs.includes(13)) throw new Error('unlucky');
    return xs;
  });
  const results = await Promise.allSettled([batcher.submit(13), batcher.submit(1), batcher.submit(2)]);
  assert.equal(results[0]?.status, 'rejected');
  assert.ok(results.some((r) => r.status === 'fulfilled'));
});

test('a run returning the wrong number of outputs rejects with INTERNAL', async () => {
  const batcher = new MicroBatcher<number, number>({ maxBatch: 2, maxWaitMs: 0 }, async () => [1, 2, 3]);
  await assert.rejects(batcher.submit(1), (e: unknown) => isClipnError(e, 'INTERNAL'));
});

test('bad options are refused with CONFIG_INVALID', () => {
  assert.throws(() => new MicroBatcher({ maxBatch: 0, maxWaitMs: 1 }, async (x) => x), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
  assert.throws(() => new MicroBatcher({ maxBatch: 1, maxWaitMs: -1 }, async (x) => x), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
});

test('after close, submit is refused and queued items still run', async () => {
  const batcher = new MicroBatcher<number, number>({ maxBatch: 10, maxWaitMs: 60_000 }, async (xs) => xs);
  const queued = batcher.submit(7);
  batcher.close();
  assert.equal(await queued, 7);
  await assert.rejects(batcher.submit(8));
});

/** Resolves after pending immediates (one event-loop turn), failing the test after `ms`. */
const turn = () => new Promise<void>((r) => setImmediate(r));
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms).unref())]);

test('an idle encoder runs a lone item at once, not after maxWaitMs', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher<number, number>({ maxBatch: 8, maxWaitMs: 60_000 }, async (xs) => {
    sizes.push(xs.length);
    return xs;
  });
  assert.equal(await within(batcher.submit(1), 5_000, 'a lone item'), 1);
  assert.deepEqual(sizes, [1]);
});

test('items submitted in the same turn share one batch', async () => {
  const sizes: number[] = [];
  const batcher = new MicroBatcher<number, number>({ maxBatch: 8, maxWaitMs: 60_000 }, async (xs) => {
    sizes.push(xs.length);
    return xs;
  });
  assert.deepEqual(await within(Promise.all([1, 2, 3].map((x) => batcher.submit(x))), 5_000, 'three items'), [1, 2, 3]);
  assert.deepEqual(sizes, [3]);
});

test('items queued during a run start the next batch the moment it ends, up to maxBatch each', async () => {
  const sizes: number[] = [];
  const gates: Array<() => void> = [];
  const batcher = new MicroBatcher<number, number>({ maxBatch: 4, maxWaitMs: 60_000 }, async (xs) => {
    sizes.push(xs.length);
    await new Promise<void>((r) => gates.push(r));
    return xs;
  });
  const first = batcher.submit(0);
  await turn();
  assert.deepEqual(sizes, [1], 'the first item runs without waiting for company');
  assert.ok(batcher.busy);
  const later = Array.from({ length: 10 }, (_, i) => batcher.submit(i + 1));
  await turn();
  assert.deepEqual(sizes, [1], 'nothing else starts while a batch runs');
  assert.equal(batcher.queued, 10);
  for (let run = 1; run <= 3; run++) {
    gates.shift()!();
    // No timer is involved: the next batch starts within the same few microtasks.
    await turn();
    assert.equal(sizes.length, run + 1, `batch ${run + 1} started when batch ${run} ended`);
  }
  gates.shift()!();
  assert.deepEqual(await within(Promise.all([first, ...later]), 5_000, 'all items'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(sizes, [1, 4, 4, 2]);
  assert.ok(!batcher.busy);
});

test('under a steady stream the batches grow and the encoder never waits for maxWaitMs', async () => {
  const sizes: number[] = [];
  let idleSince = 0;
  let longestIdle = 0;
  const batcher = new MicroBatcher<number, number>({ maxBatch: 8, maxWaitMs: 60_000 }, async (xs) => {
    if (idleSince > 0) longestIdle = Math.max(longestIdle, performance.now() - idleSince);
    sizes.push(xs.length);
    await new Promise((r) => setTimeout(r, 5));
    idleSince = batcher.queued > 0 ? performance.now() : 0;
    return xs;
  });
  const all: Array<Promise<number>> = [];
  for (let i = 0; i < 60; i++) {
    all.push(batcher.submit(i));
    await new Promise((r) => setTimeout(r, 1));
  }
  await within(Promise.all(all), 20_000, 'the stream');
  assert.equal(sizes.reduce((a, b) => a + b, 0), 60);
  assert.ok(sizes.length < 60 && Math.max(...sizes) > 1, `batches ${sizes.join(',')}`);
  assert.ok(longestIdle < 1_000, `the encoder waited ${longestIdle} ms with items queued`);
});

test('maxWaitMs 0 and flush run at once too; onBatch sees every batch size', async () => {
  const seen: number[] = [];
  const batcher = new MicroBatcher<number, number>({ maxBatch: 3, maxWaitMs: 0 }, async (xs) => xs, (n) => seen.push(n));
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map((x) => batcher.submit(x))), [1, 2, 3, 4]);
  assert.deepEqual(seen, [3, 1]);
});
