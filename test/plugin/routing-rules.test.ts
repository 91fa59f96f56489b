import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideBuiltin as route } from '../../src/plugin/index.js';
import { isClipnError } from '../../src/errors.js';

const both = { scores: { ctwLogOdds: -1.4, atdLogOdds: -0.8 }, ood: { ctw: true, atd: true } };
const onlyCtw = { scores: { ctwLogOdds: -0.4, atdLogOdds: 2.2 }, ood: { ctw: true, atd: false } };
const none = { scores: { ctwLogOdds: 2.2, atdLogOdds: 2.9 }, ood: { ctw: false, atd: false } };

test('each rule combines the two flags as named', () => {
  assert.equal(route('ctw', onlyCtw).review, true);
  assert.equal(route('atd', onlyCtw).review, false);
  assert.equal(route('both', onlyCtw).review, false);
  assert.equal(route('both', both).review, true);
  assert.equal(route('either', onlyCtw).review, true);
  assert.equal(route('either', none).review, false);
});

test('reasons name the flags that fired', () => {
  const d = route('either', both);
  assert.equal(d.reasons.length, 2);
  assert.match(d.reasons[0] ?? '', /^ctw/);
  assert.deepEqual(route('atd', none).reasons, []);
});

test('calibrated thresholds compare the log-odds of the ID scores', () => {
  assert.equal(route('calibrated', none, { ctwLogOdds: 3 }).review, true);
  assert.equal(route('calibrated', none, { ctwLogOdds: 0, atdLogOdds: 0 }).review, false);
  assert.match(route('calibrated', none, { atdLogOdds: 4.6 }).reasons[0] ?? '', /atd log-odds 2\.9000 < calibrated 4\.6000/);
});

test('calibrated without thresholds is a label-set error', () => {
  assert.throws(() => route('calibrated', none, {}), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID'));
});
