import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Limiter } from '../../src/images/index.js';
import { isClipnError } from '../../src/errors.js';

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('at most `limit` tasks run at once; the rest start in arrival order as slots free', async () => {
  const limiter = new Limiter(2);
  const gates = Array.from({ length: 5 }, deferred);
  const started: number[] = [];
  let peak = 0;
  const runs = gates.map((gate, i) =>
    limiter.run(async () => {
      started.push(i);
      peak = Math.max(peak, limiter.running);
      await gate.promise;
      return i;
    }),
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(limiter.waiting, 3);
  gates[1]!.resolve();
  assert.equal(await runs[1], 1);
  assert.deepEqual(started, [0, 1, 2]);
  for (const g of gates) g.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  assert.equal(limiter.running, 0);
  assert.equal(limiter.waiting, 0);
});

test('a failing task releases its slot and its error reaches the caller', async () => {
  const limiter = new Limiter(1);
  const gate = deferred();
  const failing = limiter.run(() => gate.promise.then(() => Promise.reject(new Error('boom'))));
  const next = limiter.run(async () => 'ran');
  gate.resolve();
  await assert.rejects(failing, /boom/);
  assert.equal(await next, 'ran');
  assert.equal(limiter.running, 0);
});

test('a limit below 1 or not an integer is refused', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new Limiter(bad), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'), String(bad));
});
