import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auroc, fprAtTpr, rocCurve, thresholdAtTpr } from '../../src/clipn/index.js';
import { isClipnError } from '../../src/errors.js';

test('perfect, inverted and random-like separations', () => {
  assert.equal(auroc([0.9, 0.8], [0.1, 0.2]), 1);
  assert.equal(auroc([0.1, 0.2], [0.9, 0.8]), 0);
  assert.equal(auroc([0.5, 0.5], [0.5, 0.5]), 0.5); // all tied: half credit
  assert.equal(fprAtTpr([0.9, 0.8], [0.1, 0.2]), 0);
  assert.equal(fprAtTpr([0.1, 0.2], [0.9, 0.8]), 1);
  assert.equal(fprAtTpr([0.5, 0.5], [0.5, 0.5]), 0.95); // one diagonal step from (0,0) to (1,1)
});

test('AUROC equals the Mann-Whitney statistic with ties counted half', () => {
  const id = [0.9, 0.7, 0.7, 0.3];
  const ood = [0.8, 0.7, 0.2];
  let wins = 0;
  for (const a of id) for (const b of ood) wins += a > b ? 1 : a === b ? 0.5 : 0;
  assert.ok(Math.abs(auroc(id, ood) - wins / (id.length * ood.length)) < 1e-12);
});

test('FPR at 95% TPR interpolates linearly between ROC points', () => {
  // 20 ID scores 1..20, OOD scores 0.5 and 10.5: TPR reaches 0.95 at threshold 2, with 1 of 2 OOD above it.
  const id = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.equal(fprAtTpr(id, [0.5, 10.5]), 0.5);
  // A tie between an ID and an OOD score makes a diagonal step from (0, 0.5) to (1, 1): 0.95 -> 0.9.
  assert.ok(Math.abs(fprAtTpr([2, 1], [1]) - 0.9) < 1e-12);
  const { fpr, tpr } = rocCurve([1, 2], [3]);
  assert.deepEqual(fpr, [0, 1, 1, 1]);
  assert.deepEqual(tpr, [0, 0, 0.5, 1]);
});

test('calibration keeps the asked share of ID scores', () => {
  const scores = Array.from({ length: 100 }, (_, i) => i / 100);
  const t = thresholdAtTpr(scores, 0.95);
  assert.equal(scores.filter((s) => s >= t).length, 95);
  // Shares whose product with the count is not exact in floating point (0.07 * 100 > 7).
  for (const share of [0.07, 0.14, 0.55, 1]) {
    const th = thresholdAtTpr(scores, share);
    assert.equal(scores.filter((s) => s >= th).length, Math.round(share * 100), `share ${share}`);
  }
  // Ties at the threshold are all kept: the share kept is at least the one asked.
  assert.equal(thresholdAtTpr([0.9, 0.5, 0.5, 0.5, 0.1], 0.5), 0.5);
  assert.throws(() => thresholdAtTpr([], 0.9), (e: unknown) => isClipnError(e, 'INPUT_INVALID'));
  assert.throws(() => thresholdAtTpr([1], 1.5), (e: unknown) => isClipnError(e, 'INPUT_INVALID'));
});

test('empty sets are refused', () => {
  assert.throws(() => auroc([], [1]), (e: unknown) => isClipnError(e, 'INPUT_INVALID'));
});
