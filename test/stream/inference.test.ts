import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isClipnError } from '../../src/errors.js';
import { Inference, type InferItem } from '../../src/stream/inference.js';

// A fake classifier: pure logic under test is the batching and the per-image fallback. Its
// encoder throws for any batch holding a tensor whose first value is NaN, as a real encoder can
// for one bad input.
function fakeClassifier(runs: number[]) {
  return {
    async embed(pixels: Float32Array, n: number) {
      runs.push(n);
      const per = pixels.length / n;
      for (let i = 0; i < n; i++) if (Number.isNaN(pixels[i * per]!)) throw new Error('kernel failed');
      return Float32Array.from({ length: n * 2 }, (_, j) => pixels[Math.floor(j / 2) * per]!);
    },
    score(embedding: Float32Array) {
      return [{ label: `x${embedding[0]}`, index: 0, scores: {}, ood: { ctw: false, atd: false }, top: [] }];
    },
  };
}

test('one image that makes the encoder throw fails alone; its batch mates get results', async () => {
  const runs: number[] = [];
  const classifier = fakeClassifier(runs);
  const inference = new Inference({ maxBatch: 4, maxWaitMs: 50 });
  const item = (v: number): InferItem => ({ tensor: Float32Array.from([v, 0, 0]), classifier, prepared: {} } as unknown as InferItem);
  const settled = await Promise.allSettled([item(1), item(2), item(Number.NaN), item(4)].map((i) => inference.infer(i)));
  assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(settled.filter((s) => s.status === 'fulfilled').map((s) => (s as PromiseFulfilledResult<{ score: { label: string } }>).value.score.label), ['x1', 'x2', 'x4']);
  const failure = (settled[2] as PromiseRejectedResult).reason;
  assert.ok(isClipnError(failure, 'INFERENCE_FAILED') && /kernel failed/.test(failure.message));
  // One batch of 4, then each image alone.
  assert.deepEqual(runs, [4, 1, 1, 1, 1]);
  inference.close();
});
