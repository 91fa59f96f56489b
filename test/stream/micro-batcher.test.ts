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

test('a partial batch runs after maxWaitMs', async () => {
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
