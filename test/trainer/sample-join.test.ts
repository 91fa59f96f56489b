import { test } from 'node:test';
import assert from 'node:assert/strict';
import { joinSample } from '../../src/trainer/sample-join.js';
import { hashUnit, splitOf } from '../../src/trainer/split.js';
import type { StoredDecision, StoredItem } from '../../src/trainer/types.js';

const OPTIONS = { template: 'a {}', heldOutShare: 0.25, salt: 's3cret', trainOnSampled: true };
const item = (extra: Partial<StoredItem> = {}): StoredItem => ({
  id: 'img-1', embedding: new Float32Array([1, 0]), caption: null, predicted: 'circle', sampled: false,
  labelSet: { id: 'shapes', version: 3, labels: ['circle', 'square'] }, promptVersion: 'm/p0', createdAt: 1, ...extra,
});
const decision = (extra: Partial<StoredDecision>): StoredDecision => ({ itemId: 'img-1', decision: 'is_class', label: null, concept: null, caption: null, reviewer: null, decidedAt: 5, ...extra });

test('each decision kind sets text, group and kind', () => {
  assert.deepEqual(pick(joinSample(item(), decision({ label: 'square' }), OPTIONS)), { text: 'a square', group: 'square', kind: 'id', source: 'decision' });
  assert.deepEqual(pick(joinSample(item(), decision({ decision: 'new_concept', concept: 'crescent' }), OPTIONS)), { text: 'a crescent', group: 'crescent', kind: 'ood', source: 'decision' });
  assert.deepEqual(pick(joinSample(item(), decision({ decision: 'none_of_labels' }), OPTIONS)), { text: null, group: null, kind: 'ood', source: 'decision' });
});

test("the reviewer's caption wins; for is_class the request's caption comes before the template", () => {
  assert.equal(joinSample(item({ caption: 'two red squares' }), decision({ label: 'square' }), OPTIONS)!.text, 'two red squares');
  assert.equal(joinSample(item({ caption: 'two red squares' }), decision({ label: 'square', caption: 'a big square' }), OPTIONS)!.text, 'a big square');
  assert.equal(joinSample(item(), decision({ decision: 'none_of_labels', caption: 'a heart' }), OPTIONS)!.text, 'a heart');
});

test('an item without a decision is a sample only when sampled with a caption (an ID pair), and only with trainOnSampled', () => {
  assert.equal(joinSample(item({ sampled: true, caption: 'a circle' }), undefined, { ...OPTIONS, trainOnSampled: false }), null, 'unreviewed pairs are off by default');
  assert.equal(joinSample(item(), undefined, OPTIONS), null);
  assert.equal(joinSample(item({ sampled: true }), undefined, OPTIONS), null);
  assert.deepEqual(pick(joinSample(item({ sampled: true, caption: 'a circle' }), undefined, OPTIONS)), { text: 'a circle', group: 'circle', kind: 'id', source: 'sampled' });
});

test('the split is a deterministic function of the id with about the held-out share', () => {
  const ids = Array.from({ length: 4000 }, (_, i) => `item-${i}`);
  const held = ids.filter((id) => splitOf(id, 0.2, 's3cret') === 'heldout').length / ids.length;
  assert.ok(Math.abs(held - 0.2) < 0.03, `held-out share ${held}`);
  assert.deepEqual(ids.map((id) => splitOf(id, 0.2, 's3cret')), ids.map((id) => splitOf(id, 0.2, 's3cret')));
  assert.equal(joinSample(item(), decision({ label: 'circle' }), OPTIONS)!.split, splitOf('img-1', 0.25, 's3cret'));
  assert.notEqual(hashUnit('a', 'x'), hashUnit('b', 'x'));
});

test('the split depends on the secret salt: ids cannot be picked to land in one split without it', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => `item-${i}`);
  const a = ids.map((id) => splitOf(id, 0.5, 'salt-a'));
  const b = ids.map((id) => splitOf(id, 0.5, 'salt-b'));
  const same = a.filter((s, i) => s === b[i]).length / ids.length;
  // Independent keys agree on about half the ids.
  assert.ok(Math.abs(same - 0.5) < 0.05, `agreement ${same}`);
});

function pick(s: ReturnType<typeof joinSample>): unknown {
  assert.ok(s);
  return { text: s.text, group: s.group, kind: s.kind, source: s.source };
}
