import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isClipnError } from '../../src/errors.js';
import { decide, gateMetrics, lineageMetrics } from '../../src/trainer/gate.js';
import { chooseLabelSet } from '../../src/trainer/training-run.js';
import { parseLabelSet } from '../../src/clipn/index.js';
import type { GateMetrics, Sample } from '../../src/trainer/types.js';

const MARGINS = { auroc: 0.01, accuracy: 0.02 };
const metrics = (atd: number, acc: number | null): GateMetrics => ({ atdAuroc: atd, ctwAuroc: 0.5, atdFpr95: 0.5, ctwFpr95: 0.5, idAccuracy: acc, heldOutId: 10, heldOutOod: 10, accuracySamples: acc === null ? 0 : 10 });

test('metrics from held-out scores: separable scores give AUROC 1 and FPR95 0', () => {
  const m = gateMetrics({ id: [{ atd: 0.9, ctw: 0.8 }, { atd: 0.8, ctw: 0.2 }], ood: [{ atd: 0.1, ctw: 0.5 }, { atd: 0.2, ctw: 0.9 }], correct: [true, false, true, true] });
  assert.equal(m.atdAuroc, 1);
  assert.equal(m.atdFpr95, 0);
  assert.equal(m.ctwAuroc, 0.25);
  assert.equal(m.idAccuracy, 0.75);
  assert.equal(gateMetrics({ id: [{ atd: 1, ctw: 1 }], ood: [{ atd: 0, ctw: 0 }], correct: [] }).idAccuracy, null);
});

test('the gate publishes a candidate within the margins and refuses one below them', () => {
  assert.deepEqual(decide(metrics(0.8, 0.9), metrics(0.7, 0.9), MARGINS), { publish: true, reasons: [] });
  assert.equal(decide(metrics(0.695, 0.885), metrics(0.7, 0.9), MARGINS).publish, true, 'within both margins');
  const worse = decide(metrics(0.6, 0.9), metrics(0.7, 0.9), MARGINS);
  assert.equal(worse.publish, false);
  assert.match(worse.reasons[0]!, /ATD AUROC 0.6000 < serving 0.7000/);
  const lessAccurate = decide(metrics(0.9, 0.8), metrics(0.7, 0.9), MARGINS);
  assert.deepEqual([lessAccurate.publish, lessAccurate.reasons.length], [false, 1]);
  assert.equal(decide(metrics(0.9, null), metrics(0.7, 0.9), MARGINS).publish, true, 'no labelled ID samples: accuracy not compared');
  assert.equal(decide(metrics(Number.NaN, 0.9), metrics(0.7, 0.9), MARGINS).publish, false, 'NaN never passes');
});

test('lineage metrics name both models and leave out missing numbers', () => {
  const l = lineageMetrics(metrics(0.8, null), metrics(0.7, 0.9));
  assert.equal(l['candidate.atdAuroc'], 0.8);
  assert.equal(l['serving.idAccuracy'], 0.9);
  assert.equal(l.atdAuroc, 0.8);
  assert.ok(!('candidate.idAccuracy' in l));
});

test('the label set is the configured one at its latest version on the topic, never the samples\' majority', () => {
  const s = (labelSetId: string, source: Sample['source'] = 'decision'): Sample => ({ id: labelSetId, embedding: new Float32Array(1), text: null, group: null, kind: 'id', decidedAt: 1, split: 'heldout', source, labelSetId, labels: ['x', 'y'] });
  const topic = new Map([['a', parseLabelSet({ id: 'a', version: 7, labels: ['p', 'q'] })]]);
  assert.equal(chooseLabelSet('a', topic, [s('b'), s('b'), s('b')]).version, 7, 'a majority of samples naming b changes nothing');
  const carried = chooseLabelSet('b', topic, [s('a'), s('b'), s('a')]);
  assert.deepEqual([carried.id, [...carried.labels]], ['b', ['x', 'y']], 'off the topic: the labels reviewed samples of it carried');
  assert.throws(() => chooseLabelSet('c', topic, [s('c', 'sampled')]), (e) => isClipnError(e, 'TRAINER_LABEL_SET_UNKNOWN'));
});
