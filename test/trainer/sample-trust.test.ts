import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipnClassifier, parseLabelSet } from '../../src/clipn/index.js';
import { DEFAULT_IMAGE_OPTIONS } from '../../src/images/index.js';
import { evaluateClassifier } from '../../src/trainer/evaluator.js';
import type { SampleRefusal } from '../../src/trainer/sample-check.js';
import { SampleStore, type SampleStoreOptions } from '../../src/trainer/sample-store.js';
import type { Sample, StoredDecision, StoredItem } from '../../src/trainer/types.js';

const DEMO = join(import.meta.dirname, '..', '..', 'models', 'demo');
const DIM = 128;
const JOIN = { template: 'a photo of a {}', heldOutShare: 0.5 };
const LABELS = parseLabelSet({ id: 'default', labels: ['circle', 'square'] });
const dir = (): string => mkdtempSync(join(tmpdir(), 'clipn-trust-'));

// A deterministic unit vector per seed (no Math.random: the same test, the same data).
function unitVector(seed: number, dim = DIM): Float32Array {
  const v = Array.from({ length: dim }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 43758.5453 % 1);
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
}

function item(id: string, embedding: Float32Array, createdAt = 1000): StoredItem {
  return { id, embedding, caption: null, predicted: 'circle', sampled: false, labelSet: { id: 'default', version: 1, labels: ['circle', 'square'] }, promptVersion: 'm/p0', createdAt };
}

function decision(itemId: string, ood: boolean): StoredDecision {
  return { itemId, decision: ood ? 'none_of_labels' : 'is_class', label: ood ? null : 'circle', concept: null, caption: null, reviewer: 'r', decidedAt: 2000 };
}

const ids = Array.from({ length: 40 }, (_, i) => `decided-${i}`);

/** A store holding 40 decided samples (half ID, half OOD); refusals are collected. */
async function decidedStore(d: string, extra: Partial<SampleStoreOptions> = {}): Promise<{ store: SampleStore; refused: SampleRefusal[] }> {
  const refused: SampleRefusal[] = [];
  const store = await SampleStore.open({ dir: d, embedDim: DIM, maxSamples: 1000, splitSalt: 'test-salt', onRefused: (r) => refused.push(r), ...extra });
  await store.add(ids.map((id, i) => item(id, unitVector(i))), ids.map((id, i) => decision(id, i % 2 === 1)));
  return { store, refused };
}

let classifier: Promise<ClipnClassifier> | null = null;
const demo = (): Promise<ClipnClassifier> =>
  (classifier ??= ClipnClassifier.load(DEMO, {
    encoders: { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', maxBatch: 16 },
    images: DEFAULT_IMAGE_OPTIONS,
    cache: { dir: null, maxEntries: 100 },
    topK: 1,
  }));

/** What a training run works on: every sample a unit vector of the model's size, and the gate's evaluation of them succeeds. */
async function assertRunnable(samples: readonly Sample[]): Promise<void> {
  for (const s of samples) {
    assert.equal(s.embedding.length, DIM, `${s.id}: the model's dimension`);
    assert.ok(s.embedding.every(Number.isFinite), `${s.id}: finite`);
  }
  const m = await evaluateClassifier(await demo(), LABELS, samples);
  assert.ok(Number.isFinite(m.atdAuroc) && m.heldOutId > 0 && m.heldOutOod > 0, 'the held-out evaluation works');
}

test('a NaN, a wrong-size and an unnormalised embedding are refused by reason; the decided samples and the next run are unaffected', async () => {
  const { store, refused } = await decidedStore(dir());
  try {
    const before = store.samples(JOIN);
    const nan = unitVector(99);
    nan[3] = Number.NaN;
    const changed = await store.add([item('nan', nan), item('short', unitVector(98, DIM - 1)), item('raw', unitVector(97).map((x) => x * 10)), item('ok', unitVector(96))], [decision('nan', false), decision('short', true), decision('raw', false)]);
    assert.deepEqual(refused.map((r) => [r.id, r.reason]), [['nan', 'not_finite'], ['short', 'dimension'], ['raw', 'norm']]);
    assert.equal(changed, 4, 'the good item and the three decisions (left waiting) are stored');
    assert.deepEqual(store.samples(JOIN), before, 'no refused item became a sample');
    assert.equal(store.counts().pendingDecisions, 3);
    await assertRunnable(store.samples(JOIN));
  } finally {
    await store.close();
  }
});

test("a decided item's embedding cannot be replaced, also after a reopen; the refusal is reported", async () => {
  const d = dir();
  const { store, refused } = await decidedStore(d);
  const original = store.samples(JOIN).find((s) => s.id === 'decided-0')!;
  assert.equal(await store.add([item('decided-0', unitVector(500), 5000)], []), 0);
  assert.deepEqual(refused.map((r) => [r.id, r.reason]), [['decided-0', 'replaced']]);
  // An undecided item keeps its first embedding too: a decision may be on its way for it.
  await store.add([item('undecided', unitVector(600))], []);
  assert.equal(await store.add([item('undecided', unitVector(601), 5000)], []), 0);
  await store.close();
  const again = await SampleStore.open({ dir: d, embedDim: DIM, maxSamples: 1000, splitSalt: 'test-salt' });
  try {
    assert.deepEqual(again.samples(JOIN).find((s) => s.id === 'decided-0')!.embedding, original.embedding);
    assert.equal(again.samples(JOIN).length, ids.length);
    await assertRunnable(again.samples(JOIN));
  } finally {
    await again.close();
  }
});

test('a flood of 100k decisions for unknown ids only evicts other pending decisions, never a decided sample', async () => {
  const d = dir();
  const { store } = await decidedStore(d, { maxPendingDecisions: 1000 });
  const before = store.samples(JOIN);
  for (let b = 0; b < 10; b++) {
    await store.add([], Array.from({ length: 10_000 }, (_, i) => decision(`unknown-${b * 10_000 + i}`, false)));
  }
  assert.deepEqual(store.samples(JOIN), before);
  assert.deepEqual({ samples: store.counts().samples, pending: store.counts().pendingDecisions }, { samples: ids.length, pending: 1000 });
  // The newest pending decisions are kept: their item still joins.
  await store.add([item('unknown-99999', unitVector(700))], []);
  assert.equal(store.counts().samples, ids.length + 1);
  await store.close();
  const again = await SampleStore.open({ dir: d, embedDim: DIM, maxSamples: 1000, maxPendingDecisions: 1000, splitSalt: 'test-salt' });
  try {
    assert.deepEqual(again.samples(JOIN).slice(0, ids.length), before, 'the same after a reopen');
    assert.equal(again.counts().pendingDecisions, 999);
    await assertRunnable(again.samples(JOIN));
  } finally {
    await again.close();
  }
});

test('items nobody decided on are evicted before decided samples', async () => {
  const { store } = await decidedStore(dir(), { maxSamples: 50 });
  try {
    const before = store.samples(JOIN);
    await store.add(Array.from({ length: 200 }, (_, i) => item(`flood-${i}`, unitVector(1000 + i))), []);
    assert.deepEqual(store.samples(JOIN), before);
    assert.deepEqual([store.counts().samples, store.counts().pendingItems], [ids.length, 10]);
  } finally {
    await store.close();
  }
});

test('without a configured salt the store makes a secret one and keeps it: the split survives a reopen', async () => {
  const d = dir();
  const first = await SampleStore.open({ dir: d, embedDim: DIM, maxSamples: 1000 });
  await first.add(ids.map((id, i) => item(id, unitVector(i))), ids.map((id, i) => decision(id, i % 2 === 1)));
  const splits = first.samples(JOIN).map((s) => s.split);
  await first.close();
  assert.match(readFileSync(join(d, 'split-salt'), 'utf8'), /^[0-9a-f]{64}$/);
  const again = await SampleStore.open({ dir: d, embedDim: DIM, maxSamples: 1000 });
  try {
    assert.deepEqual(again.samples(JOIN).map((s) => s.split), splits);
  } finally {
    await again.close();
  }
  const other = await SampleStore.open({ dir: dir(), embedDim: DIM, maxSamples: 1000 });
  try {
    await other.add(ids.map((id, i) => item(id, unitVector(i))), ids.map((id, i) => decision(id, i % 2 === 1)));
    assert.notDeepEqual(other.samples(JOIN).map((s) => s.split), splits, 'another store, another salt, another split');
  } finally {
    await other.close();
  }
});

test('unreviewed sampled captioned items train only with trainOnSampled', async () => {
  const sampled = { ...item('s', unitVector(800)), sampled: true, caption: 'a circle' };
  for (const trainOnSampled of [false, true]) {
    const store = await SampleStore.open({ dir: dir(), embedDim: DIM, maxSamples: 10, splitSalt: 'k', trainOnSampled });
    try {
      await store.add([sampled], []);
      assert.equal(store.samples(JOIN).length, trainOnSampled ? 1 : 0);
      assert.equal(store.counts().samples, trainOnSampled ? 1 : 0);
    } finally {
      await store.close();
    }
  }
});
