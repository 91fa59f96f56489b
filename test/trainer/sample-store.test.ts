import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SampleStore } from '../../src/trainer/sample-store.js';
import type { StoredDecision, StoredItem } from '../../src/trainer/types.js';
import { isClipnError } from '../../src/errors.js';

const JOIN = { template: 'a photo of a {}', heldOutShare: 0.2 };
const unit = (v: number[]): Float32Array => {
  const n = Math.hypot(...v);
  return Float32Array.from(v, (x) => x / n);
};
const dir = (): string => mkdtempSync(join(tmpdir(), 'clipn-store-'));

function item(id: string, extra: Partial<StoredItem> = {}): StoredItem {
  return {
    id,
    embedding: unit(Array.from({ length: 8 }, (_, i) => Math.sin(i + id.length))),
    caption: null,
    predicted: 'circle',
    sampled: false,
    labelSet: { id: 'default', version: 1, labels: ['circle', 'square'] },
    promptVersion: 'm/p0',
    createdAt: 1000,
    ...extra,
  };
}

function decision(itemId: string, extra: Partial<StoredDecision> = {}): StoredDecision {
  return { itemId, decision: 'is_class', label: 'square', concept: null, caption: null, reviewer: 'r', decidedAt: 2000, ...extra };
}

test('joins item and decision in either order; pending halves are kept and counted', async () => {
  const store = await SampleStore.open({ dir: dir(), embedDim: 8, maxSamples: 100 });
  try {
    await store.add([item('a')], []);
    await store.add([], [decision('b', { decision: 'new_concept', label: null, concept: 'crescent' })]);
    assert.deepEqual(store.counts(), { samples: 0, pendingItems: 1, pendingDecisions: 1, newSinceRun: 0, newSincePublished: 0 });
    await store.add([], [decision('a')]);
    await store.add([item('b')], []);
    const samples = store.samples(JOIN);
    assert.deepEqual(samples.map((s) => [s.id, s.kind, s.group, s.text]), [['a', 'id', 'square', 'a photo of a square'], ['b', 'ood', 'crescent', 'a photo of a crescent']]);
    assert.equal(store.counts().samples, 2);
    assert.equal(store.counts().newSinceRun, 2);
  } finally {
    await store.close();
  }
});

test('reopening after writes restores every sample and count; redelivered records change nothing', async () => {
  const d = dir();
  const first = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 100 });
  await first.add([item('a'), item('b'), item('c')], [decision('a'), decision('b', { decision: 'none_of_labels', label: null })]);
  await first.markRun('refused', first.lastSeq);
  await first.add([], [decision('c')]);
  const before = { counts: first.counts(), samples: first.samples(JOIN), seq: first.lastSeq };
  await first.close();

  const second = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 100 });
  try {
    assert.deepEqual(second.counts(), before.counts);
    assert.equal(second.counts().newSinceRun, 1, 'only c is new since the run');
    assert.deepEqual(second.samples(JOIN), before.samples);
    // What a consumer re-reads after a crash before its commit.
    assert.equal(await second.add([item('a'), item('c')], [decision('a'), decision('c')]), 0);
    assert.equal(second.lastSeq, before.seq);
    assert.deepEqual(second.counts(), before.counts);
  } finally {
    await second.close();
  }
});

test('a later decision replaces the earlier one (no double counting); an older one is ignored', async () => {
  const store = await SampleStore.open({ dir: dir(), embedDim: 8, maxSamples: 100 });
  try {
    await store.add([item('a')], [decision('a', { decidedAt: 10 })]);
    await store.add([], [decision('a', { decision: 'new_concept', label: null, concept: 'heart', decidedAt: 20 })]);
    assert.equal(await store.add([], [decision('a', { decidedAt: 15 })]), 0);
    const samples = store.samples(JOIN);
    assert.equal(samples.length, 1);
    assert.equal(samples[0]!.kind, 'ood');
    assert.equal(samples[0]!.group, 'heart');
    assert.equal(store.counts().newSinceRun, 1);
  } finally {
    await store.close();
  }
});

test('retention keeps the newest maxSamples entries, also after a reopen', async () => {
  const d = dir();
  const store = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 3 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) await store.add([item(id)], [decision(id)]);
  assert.deepEqual(store.samples(JOIN).map((s) => s.id), ['c', 'd', 'e']);
  await store.close();
  const again = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 3 });
  try {
    assert.deepEqual(again.samples(JOIN).map((s) => s.id), ['c', 'd', 'e']);
  } finally {
    await again.close();
  }
});

test('compaction folds the log into a snapshot; a line cut short by a crash is dropped', async () => {
  const d = dir();
  const store = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 100, compactAfter: 4 });
  for (const id of ['a', 'b', 'c']) await store.add([item(id)], [decision(id)]);
  await store.markRun('published', store.lastSeq);
  await store.add([item('d')], [decision('d')]);
  const counts = store.counts();
  await store.close();
  assert.ok(readdirSync(d).includes('snapshot.jsonl'), 'a snapshot was written');
  const log = readdirSync(d).find((f) => f.startsWith('log-'))!;
  appendFileSync(join(d, log), '{"t":"decision","decision":{"itemId":"x","dec');
  const again = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 100, compactAfter: 4 });
  try {
    assert.deepEqual(again.counts(), counts);
    assert.equal(again.counts().newSincePublished, 1);
    await again.add([item('e')], []);
  } finally {
    await again.close();
  }
  assert.ok(readFileSync(join(d, readdirSync(d).find((f) => f.startsWith('log-'))!), 'utf8').split('\n').filter(Boolean).every((l) => JSON.parse(l)));
});

test('a live owner locks the folder; a corrupt snapshot is a coded error', async () => {
  const d = dir();
  // Another live process (this one's parent) holds the lock.
  writeFileSync(join(d, 'lock'), String(process.ppid));
  await assert.rejects(SampleStore.open({ dir: d, embedDim: 8, maxSamples: 10 }), (e) => isClipnError(e, 'CONFIG_INVALID'));
  writeFileSync(join(d, 'lock'), '999999999');
  writeFileSync(join(d, 'snapshot.jsonl'), 'not json\n');
  await assert.rejects(SampleStore.open({ dir: d, embedDim: 8, maxSamples: 10 }), (e) => isClipnError(e, 'TRAINER_STORE_CORRUPT'));
});

test('a stale lock (its process is gone) is taken over', async () => {
  const d = dir();
  writeFileSync(join(d, 'lock'), '999999999');
  const store = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 10 });
  await store.close();
});

test('a lock naming this process\'s own pid is another process\'s (PID 1 in containers): held while fresh, taken over once untouched', async () => {
  const d = dir();
  writeFileSync(join(d, 'lock'), `${process.pid} another-process`);
  await assert.rejects(SampleStore.open({ dir: d, embedDim: 8, maxSamples: 10 }), (e) => isClipnError(e, 'CONFIG_INVALID'));
  const old = new Date(Date.now() - 60_000);
  utimesSync(join(d, 'lock'), old, old);
  const store = await SampleStore.open({ dir: d, embedDim: 8, maxSamples: 10 });
  // The same process opening the folder twice is refused too.
  await assert.rejects(SampleStore.open({ dir: d, embedDim: 8, maxSamples: 10 }), (e) => isClipnError(e, 'CONFIG_INVALID'));
  await store.close();
});
