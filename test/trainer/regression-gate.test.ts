import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conceptsOf, decodeEmbedding, regressionLineage, regressionMetrics, regressionReasons, reviewedPart, UNNAMED_CONCEPT, type SourceScores } from '../../src/trainer/index.js';
import type { Sample } from '../../src/trainer/types.js';

const source = (name: string, id: number[], concepts: Record<string, number[]>, correct: boolean[]): SourceScores => ({ source: name, id, concepts: new Map(Object.entries(concepts)), correct });
// Ten ID scores 10..19; a concept scored below all of them has AUROC 1, interleaved ones less.
const ID = Array.from({ length: 10 }, (_, i) => 10 + i);
const below = Array.from({ length: 10 }, (_, i) => i);
const half = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? i : 30 + i));

test('per-concept AUROC against the ID images of the same source, ID accuracy per source', () => {
  const m = regressionMetrics([source('bundle', ID, { crescent: below, arrow: half }, [true, true, false, true]), source('reviewed', [], { heart: below }, [])]);
  assert.deepEqual(Object.keys(m.concepts).sort(), ['bundle/arrow', 'bundle/crescent'], 'a source without ID images gives no concept numbers');
  assert.equal(m.concepts['bundle/crescent']!.atdAuroc, 1);
  assert.equal(m.concepts['bundle/arrow']!.atdAuroc, 0.5);
  assert.deepEqual(m.idAccuracy, { bundle: { value: 0.75, samples: 4 } });
});

test('the gate refuses a concept or an ID accuracy that falls by more than the margin, and only with enough images', () => {
  const correct = Array.from({ length: 10 }, () => true);
  const serving = regressionMetrics([source('bundle', ID, { crescent: below, arrow: below }, correct)]);
  const same = regressionMetrics([source('bundle', ID, { crescent: below, arrow: below }, correct)]);
  assert.deepEqual(regressionReasons(same, serving, 0.01, 10), []);
  const worse = regressionMetrics([source('bundle', ID, { crescent: below, arrow: half }, correct.map((_, i) => i !== 0))]);
  const reasons = regressionReasons(worse, serving, 0.01, 10);
  assert.equal(reasons.length, 2, reasons.join('; '));
  assert.match(reasons[0]!, /^regression: bundle\/arrow ATD AUROC 0\.5000 < serving 1\.0000/);
  assert.match(reasons[1]!, /^regression: bundle ID accuracy 0\.9000 < serving 1\.0000/);
  assert.deepEqual(regressionReasons(worse, serving, 0.01, 11), [], 'fewer images than minSamples: reported, not gated');
  assert.deepEqual(regressionReasons(worse, serving, 0.5, 10), [], 'within a wide margin');
});

test('lineage metrics carry both models\' numbers; conceptsOf reads them back for `models list`', () => {
  const serving = regressionMetrics([source('bundle', ID, { crescent: half }, [])]);
  const candidate = regressionMetrics([source('bundle', ID, { crescent: below }, [])]);
  const lineage = regressionLineage(candidate, serving);
  assert.equal(lineage['concept.bundle/crescent.atdAuroc'], 1);
  assert.equal(lineage['serving.concept.bundle/crescent.atdAuroc'], 0.5);
  assert.deepEqual(conceptsOf(lineage), [{ concept: 'bundle/crescent', atdAuroc: 1, before: 0.5 }]);
});

test('the reviewed part: ID truth from decisions only, OOD by the concept reviewers named', () => {
  const s = (id: string, kind: 'id' | 'ood', group: string | null, from: 'decision' | 'sampled'): Sample => ({ id, embedding: new Float32Array(2), text: null, group, kind, decidedAt: null, split: 'heldout', source: from, labelSetId: 'default', labels: [] });
  const part = reviewedPart([s('a', 'id', 'circle', 'decision'), s('b', 'id', 'square', 'sampled'), s('c', 'ood', 'crescent', 'decision'), s('d', 'ood', null, 'decision')]);
  assert.deepEqual(part.id.truth, ['circle', null]);
  assert.deepEqual([...part.concepts.keys()].sort(), ['crescent', UNNAMED_CONCEPT].sort());
});

test('a cached embedding decodes to its own values (a small Buffer shares Node\'s pool)', () => {
  const values = new Float32Array([0.25, -1.5, 3]);
  const text = Buffer.from(values.buffer).toString('base64');
  const back = decodeEmbedding(text);
  assert.equal(back.length, 3);
  assert.deepEqual([...back], [...values]);
});
