/**
 * Parity with the PyTorch goldens (test/fixtures/golden, made by `python -m clipn_kernel goldens`):
 * identical token ids; embeddings, heads and scores within 1e-4; identical class and flags, both
 * from the golden preprocessed tensors and end to end from the image files through sharp.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipnClassifier, parseLabelSet, type PreparedLabelSet } from '../../src/clipn/index.js';
import { DEFAULT_IMAGE_OPTIONS } from '../../src/images/index.js';
import { ClipTokenizer, loadBundle, type Bundle } from '../../src/model/index.js';
import { absDiff, GOLDEN, readGoldenF32, relErr } from '../helpers/golden.js';
import { ROOT } from '../helpers/clipn-cli.js';

const golden = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8')) as {
  modelVersion: string;
  labels: string[];
  templates: string[];
  imageSize: number;
  embedDim: number;
  tokens: Array<{ text: string; ids: number[] }>;
  texts: string[];
  images: Array<{ file: string; pixels: string; index: number; label: string; scores: Record<string, number>; ood: { ctw: boolean; atd: boolean } }>;
};

const f32 = readGoldenF32;


let bundle: Bundle;
let classifier: ClipnClassifier;
let prepared: PreparedLabelSet;

before(async () => {
  bundle = await loadBundle(join(ROOT, 'models', 'demo'));
  assert.equal(bundle.manifest.modelVersion, golden.modelVersion, 'goldens are for the committed demo model (regenerate: npm run goldens)');
  classifier = await ClipnClassifier.load(bundle.dir, {
    encoders: { executionProviders: ['cpu'], intraOpThreads: 0, interOpThreads: 0, graphOptimization: 'all', maxBatch: 16 },
    images: DEFAULT_IMAGE_OPTIONS,
    cache: { dir: null, maxEntries: 10_000 },
    topK: 5,
  });
  prepared = await classifier.prepare(parseLabelSet({ id: 'golden', labels: golden.labels, templates: golden.templates }));
});

test('token ids are identical to open_clip (unicode, emoji, HTML entities, over-long text)', async () => {
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  for (const { text, ids } of golden.tokens) {
    const got = Array.from(tokenizer.encode([text]), Number);
    assert.deepEqual(got, ids, `ids differ for ${JSON.stringify(text)}`);
  }
});

test('heads equal the PyTorch heads to 1e-4', () => {
  assert.ok(relErr(prepared.heads.yes, f32('tensors/heads_yes.bin')) < 1e-4);
  assert.ok(relErr(prepared.heads.no, f32('tensors/heads_no.bin')) < 1e-4);
});

test('from the golden tensors: embeddings and scores to 1e-4, identical class and flags', async () => {
  const pixels = ClipnClassifier.stack(golden.images.map((img) => f32(img.pixels)));
  const embeds = await classifier.embed(pixels, golden.images.length);
  assert.ok(relErr(embeds, f32('tensors/image_embeds.bin')) < 1e-4);
  const scores = classifier.score(embeds, golden.images.length, prepared);
  golden.images.forEach((want, i) => {
    const got = scores[i]!;
    assert.equal(got.index, want.index, want.file);
    assert.deepEqual(got.ood, want.ood, want.file);
    for (const [name, value] of Object.entries(want.scores)) {
      const tol = 1e-4 * Math.max(1, Math.abs(value));
      assert.ok(Math.abs(got.scores[name as keyof typeof got.scores] - value) < tol, `${want.file} ${name}: ${got.scores[name as keyof typeof got.scores]} vs ${value}`);
    }
  });
});

test('end to end through sharp: preprocessing within tolerance, identical class and flags', async () => {
  // Stated tolerance: when shrinking, libvips' and Pillow's bicubic filters differ by about one
  // grey level on edges: at most 0.1 in normalised units per value and 0.01 on average. When
  // enlarging (an image smaller than the model input), libvips interpolates with another pixel
  // alignment than Pillow: up to 0.1 on average there. Classes and flags must still agree.
  const tensors = [];
  for (const want of golden.images) {
    const { tensor, width, height } = await classifier.decode(readFileSync(join(GOLDEN, want.file)));
    const enlarged = Math.min(width, height) < golden.imageSize;
    const { max, mean } = absDiff(tensor, f32(want.pixels));
    const ok = enlarged ? mean < 0.1 : max < 0.1 && mean < 0.01;
    assert.ok(ok, `${want.file}: max ${max.toFixed(4)}, mean ${mean.toFixed(5)}`);
    tensors.push(tensor);
  }
  const embeds = await classifier.embed(ClipnClassifier.stack(tensors), tensors.length);
  const scores = classifier.score(embeds, tensors.length, prepared);
  golden.images.forEach((want, i) => {
    assert.equal(scores[i]!.label, want.label, want.file);
    assert.deepEqual(scores[i]!.ood, want.ood, want.file);
  });
});
