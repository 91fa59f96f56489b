import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scoreImages } from '../../src/clipn/index.js';

// Two classes in 2-D with orthogonal heads, so the logits are easy to write by hand.
const heads = { labels: ['a', 'b'], dim: 2, yes: Float32Array.from([1, 0, 0, 1]), no: Float32Array.from([0, 1, 1, 0]) };

test('CTW, ATD and baselines on a hand-computed case', () => {
  const s = 10;
  const [r] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: s });
  // f = (0.6, 0.8): l_yes = (6, 8), l_no = (8, 6)
  const lYes = [6, 8];
  const lNo = [8, 6];
  const z = Math.exp(6) + Math.exp(8);
  const p = [Math.exp(6) / z, Math.exp(8) / z];
  const pYes = [Math.exp(6) / (Math.exp(6) + Math.exp(8)), Math.exp(8) / (Math.exp(8) + Math.exp(6))];
  assert.equal(r!.index, 1);
  assert.equal(r!.label, 'b');
  assert.ok(Math.abs(r!.scores.ctw - pYes[1]!) < 1e-12);
  assert.ok(Math.abs(r!.scores.atd - (pYes[0]! * p[0]! + pYes[1]! * p[1]!)) < 1e-12);
  assert.ok(Math.abs(r!.scores.msp - p[1]!) < 1e-12);
  assert.ok(Math.abs(r!.scores.maxLogit - Math.max(...lYes)) < 1e-9);
  assert.ok(Math.abs(r!.scores.energy - Math.log(z)) < 1e-9);
  assert.equal(r!.ood.ctw, pYes[1]! < 0.5);
  const atd = pYes[0]! * p[0]! + pYes[1]! * p[1]!;
  assert.equal(r!.ood.atd, 1 - atd > Math.max(pYes[0]! * p[0]!, pYes[1]! * p[1]!));
  assert.equal(lNo.length, 2);
});

test('an image the no heads win on is OOD by both rules', () => {
  const [r] = scoreImages(Float32Array.from([1, 1]), 1, { ...heads, no: Float32Array.from([0.6, 0.8, 0.8, 0.6]) }, { logitScale: 100 });
  assert.equal(r!.ood.ctw, true);
  assert.equal(r!.ood.atd, true);
});

test('calibrated thresholds replace the default decisions', () => {
  const [plain] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10 });
  const [strict] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10, thresholds: { ctw: 0.99, atd: 0.99 } });
  const [lax] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10, thresholds: { ctw: 0.01, atd: 0.01 } });
  assert.equal(strict!.ood.ctw, true);
  assert.equal(lax!.ood.ctw, false);
  assert.equal(lax!.ood.atd, false);
  assert.deepEqual(strict!.scores, plain!.scores);
});

test('top classes are sorted by probability and cut to topK', () => {
  const [r] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10, topK: 1 });
  assert.equal(r!.top.length, 1);
  assert.equal(r!.top[0]!.label, 'b');
});

test('extreme logits stay finite (stable softmax)', () => {
  const [r] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 1e4 });
  for (const v of Object.values(r!.scores)) assert.ok(Number.isFinite(v));
});
