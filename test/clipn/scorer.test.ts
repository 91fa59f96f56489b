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
  // The log-odds are the same scores: log(s / (1 - s)).
  for (const [prob, logOdds] of [[r!.scores.ctw, r!.scores.ctwLogOdds], [r!.scores.atd, r!.scores.atdLogOdds], [r!.scores.msp, r!.scores.mspLogOdds]] as const) {
    assert.ok(Math.abs(logOdds - Math.log(prob / (1 - prob))) < 1e-9, `${logOdds} vs ${prob}`);
  }
  assert.equal(r!.scores.ctwLogOdds, lYes[1]! - lNo[1]!);
});

test('log-odds keep apart images whose probability scores are both exactly 1', () => {
  const [a, b] = scoreImages(Float32Array.from([1, 0.2, 1, 0.1]), 2, heads, { logitScale: 100 });
  assert.deepEqual([a!.scores.ctw, a!.scores.atd, b!.scores.ctw, b!.scores.atd], [1, 1, 1, 1]);
  assert.ok(a!.scores.ctwLogOdds < b!.scores.ctwLogOdds);
  assert.ok(a!.scores.atdLogOdds < b!.scores.atdLogOdds);
  assert.ok(a!.scores.mspLogOdds < b!.scores.mspLogOdds);
  assert.ok(Number.isFinite(a!.scores.atdLogOdds) && a!.scores.atdLogOdds > 30);
});

test('the flags are the published decisions (probability space) on random heads', () => {
  // A small logit scale keeps the probabilities away from 0 and 1, where both forms are exact.
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const k = 5;
  const dim = 8;
  const unit = (n: number): Float32Array => {
    const v = Float32Array.from({ length: n * dim }, rand);
    for (let i = 0; i < n; i++) {
      const row = v.subarray(i * dim, (i + 1) * dim);
      const norm = Math.hypot(...row);
      row.forEach((x, j) => (row[j] = x / norm));
    }
    return v;
  };
  const h = { labels: ['a', 'b', 'c', 'd', 'e'], dim, yes: unit(k), no: unit(k) };
  const n = 400;
  const embeds = unit(n);
  const results = scoreImages(embeds, n, h, { logitScale: 4 });
  let ctwFlags = 0;
  let atdFlags = 0;
  results.forEach((r) => {
    assert.equal(r.top.length, k);
    const p = [...r.top].sort((x, y) => x.index - y.index);
    const weighted = p.map((c) => c.p * c.pYes);
    const atd = weighted.reduce((x, y) => x + y, 0);
    assert.equal(r.ood.ctw, p[r.index]!.pYes < 0.5);
    assert.equal(r.ood.atd, 1 - atd > Math.max(...weighted));
    ctwFlags += Number(r.ood.ctw);
    atdFlags += Number(r.ood.atd);
  });
  assert.ok(ctwFlags > 0 && ctwFlags < n && atdFlags > 0 && atdFlags < n, `flags ${ctwFlags} ${atdFlags}`);
});

test('an image the no heads win on is OOD by both rules', () => {
  const [r] = scoreImages(Float32Array.from([1, 1]), 1, { ...heads, no: Float32Array.from([0.6, 0.8, 0.8, 0.6]) }, { logitScale: 100 });
  assert.equal(r!.ood.ctw, true);
  assert.equal(r!.ood.atd, true);
});

test('calibrated thresholds replace the default decisions', () => {
  const [plain] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10 });
  const [strict] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10, thresholds: { ctwLogOdds: 5, atdLogOdds: 5 } });
  const [lax] = scoreImages(Float32Array.from([3, 4]), 1, heads, { logitScale: 10, thresholds: { ctwLogOdds: -5, atdLogOdds: -5 } });
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
