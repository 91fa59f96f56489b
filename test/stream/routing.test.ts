import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decideBuiltin as route } from '../../src/plugin/index.js';
import { sampledForTraining, withTrainingSample } from '../../src/stream/routing.js';

const both = { scores: { ctwLogOdds: -1.4, atdLogOdds: -0.8 }, ood: { ctw: true, atd: true } };
const onlyCtw = { scores: { ctwLogOdds: -0.4, atdLogOdds: 2.2 }, ood: { ctw: true, atd: false } };
const none = { scores: { ctwLogOdds: 2.2, atdLogOdds: 2.9 }, ood: { ctw: false, atd: false } };

test('a share of captioned, not-OOD inputs is sampled for training, by id hash', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `id-${i}`);
  const share = ids.filter((id) => sampledForTraining(id, 'a circle', none, 0.1)).length / ids.length;
  assert.ok(Math.abs(share - 0.1) < 0.025, `sampled share ${share}`);
  assert.deepEqual(ids.map((id) => sampledForTraining(id, 'a circle', none, 0.1)), ids.map((id) => sampledForTraining(id, 'a circle', none, 0.1)));
  assert.equal(sampledForTraining('id-1', null, none, 1), false, 'no caption, no training pair');
  assert.equal(sampledForTraining('id-1', ' ', none, 1), false);
  assert.equal(sampledForTraining('id-1', 'a circle', onlyCtw, 1), false, 'OOD by either flag is no ID pair');
  assert.equal(sampledForTraining('id-1', 'a circle', none, 0), false);
  assert.deepEqual(withTrainingSample(route('atd', none), { id: 'x', caption: 'a circle' }, none, 1), { review: true, reasons: ['sampled'] });
  const outlier = route('either', both);
  assert.equal(withTrainingSample(outlier, { id: 'x', caption: 'a circle' }, both, 1), outlier, 'an outlier keeps its own reasons');
});

test('with a salt the sampled ids are another, keyed choice', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `id-${i}`);
  const plain = ids.map((id) => sampledForTraining(id, 'a circle', none, 0.5));
  const keyed = ids.map((id) => sampledForTraining(id, 'a circle', none, 0.5, 'secret'));
  const agree = plain.filter((p, i) => p === keyed[i]).length / ids.length;
  assert.ok(Math.abs(agree - 0.5) < 0.05, `agreement ${agree}`);
  assert.deepEqual(ids.map((id) => sampledForTraining(id, 'a circle', none, 0.5, 'secret')), keyed, 'the same salt, the same choice');
});

