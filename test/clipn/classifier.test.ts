import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipnClassifier, parseLabelSet } from '../../src/clipn/index.js';
import { DEFAULT_IMAGE_OPTIONS } from '../../src/images/index.js';
import { readPrompt, loadBundle } from '../../src/model/index.js';
import { isClipnError } from '../../src/errors.js';

const DEMO = join(import.meta.dirname, '..', '..', 'models', 'demo');
const load = (cacheDir: string | null) =>
  ClipnClassifier.load(DEMO, {
    encoders: { executionProviders: ['cpu'], intraOpThreads: 0, interOpThreads: 0, graphOptimization: 'all', maxBatch: 16 },
    images: DEFAULT_IMAGE_OPTIONS,
    cache: { dir: cacheDir, maxEntries: 10_000 },
    topK: 3,
  });

test('a new label set encodes only the texts the cache has not seen', async () => {
  const c = await load(null);
  const templates = c.defaultTemplates.length;
  const first = await c.prepare(parseLabelSet({ id: 'a', labels: ['circle', 'square'] }));
  assert.deepEqual(first.stats, { encodedYes: 2 * templates, encodedNo: 2 * templates });
  const second = await c.prepare(parseLabelSet({ id: 'a', version: 2, labels: ['circle', 'square', 'star'] }));
  assert.deepEqual(second.stats, { encodedYes: templates, encodedNo: templates });
  // A new prompt re-encodes the no tower only.
  const bundle = await loadBundle(DEMO);
  const prompt = await readPrompt(bundle);
  const other = c.withPrompt(prompt.map((v) => v * 0.5), 'test/p1');
  const third = await other.prepare(second.labelSet);
  assert.deepEqual(third.stats, { encodedYes: 0, encodedNo: 3 * templates });
  assert.equal(third.promptVersion, 'test/p1');
  await c.close();
});

test('the cache persists on disk and a restarted classifier reuses it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-cache-'));
  const labelSet = parseLabelSet({ id: 'a', labels: ['ring', 'cross'] });
  const a = await load(dir);
  const before = await a.prepare(labelSet);
  await a.close();
  assert.ok(readdirSync(dir).length > 0);
  const b = await load(dir);
  const after = await b.prepare(labelSet);
  assert.deepEqual(after.stats, { encodedYes: 0, encodedNo: 0 });
  assert.deepEqual(after.heads.yes, before.heads.yes);
  await b.close();
});

test('a prompt of the wrong shape or with non-finite values is refused', async () => {
  const c = await load(null);
  assert.throws(() => c.withPrompt(new Float32Array(5), 'bad'), (e: unknown) => isClipnError(e, 'RELEASE_INVALID'));
  const bundle = await loadBundle(DEMO);
  const nan = (await readPrompt(bundle)).slice();
  nan[3] = Number.NaN;
  assert.throws(() => c.withPrompt(nan, 'nan'), (e: unknown) => isClipnError(e, 'RELEASE_INVALID') && /not finite/.test((e as Error).message));
  await c.close();
});

test('label sets are validated with the field named', () => {
  assert.throws(() => parseLabelSet({ id: 'x', labels: [] }), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && /labels: at least one label/.test((e as Error).message));
  assert.throws(() => parseLabelSet({ id: 'x', labels: ['a', 'a'] }), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && /unique/.test((e as Error).message));
  assert.throws(() => parseLabelSet({ id: 'x', labels: ['a'], templates: ['no placeholder'] }), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && /templates\.0/.test((e as Error).message));
  assert.throws(() => parseLabelSet({ id: 'x', labels: ['a'], routing: { rule: 'Some Rule!' } }), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && /routing\.rule/.test((e as Error).message));
  assert.throws(() => parseLabelSet({ id: 'x', labels: ['a'], routing: { rule: 'calibrated' } }), (e: unknown) => isClipnError(e, 'LABEL_SET_INVALID') && /thresholds/.test((e as Error).message));
});
