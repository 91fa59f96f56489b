import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClipnEncoders, ClipTokenizer, loadBundle, readPrompt } from '../../src/model/index.js';
import { isClipnError } from '../../src/errors.js';
import { GOLDEN, readGoldenF32, relErr } from '../helpers/golden.js';

const ROOT = join(import.meta.dirname, '..', '..');
const golden = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8')) as { texts: string[]; images: Array<{ pixels: string }> };
const f32 = readGoldenF32;
const load = async (maxBatch: number) => {
  const bundle = await loadBundle(join(ROOT, 'models', 'demo'));
  const encoders = await ClipnEncoders.load(bundle, { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', maxBatch });
  return { bundle, encoders };
};

const maxRelDiff = relErr;

test('both text towers match the PyTorch text embeddings to 1e-4, in chunks of 4', async () => {
  const { bundle, encoders } = await load(4);
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  const n = golden.texts.length;
  assert.ok(n > 4 && n % 4 !== 0, 'the chunking needs a partial last chunk');
  const ids = tokenizer.encode(golden.texts);
  assert.ok(maxRelDiff(await encoders.encodeTexts(ids, n), f32('tensors/text_yes.bin')) < 1e-4);
  assert.ok(maxRelDiff(await encoders.encodeTextsNo(ids, n, await readPrompt(bundle)), f32('tensors/text_no.bin')) < 1e-4);
  await encoders.release();
});

test('image batches split into chunks give the same embeddings as one run', async () => {
  const whole = await load(64);
  const chunked = await load(3);
  const n = golden.images.length;
  const per = 3 * whole.encoders.imageSize ** 2;
  const pixels = new Float32Array(n * per);
  golden.images.forEach((img, i) => pixels.set(f32(img.pixels), i * per));
  const a = await whole.encoders.encodeImages(pixels, n);
  const b = await chunked.encoders.encodeImages(pixels, n);
  assert.equal(a.length, n * whole.encoders.embedDim);
  assert.ok(maxRelDiff(b, a) < 1e-5);
  assert.ok(maxRelDiff(a, f32('tensors/image_embeds.bin')) < 1e-4);
  assert.equal((await whole.encoders.encodeImages(new Float32Array(0), 0)).length, 0);
  await assert.rejects(whole.encoders.encodeImages(pixels.subarray(1), n), (e: unknown) => isClipnError(e, 'INFERENCE_FAILED') && /expected \d+x3x\d+x\d+ = \d+ values, got \d+/.test((e as Error).message));
  await whole.encoders.release();
  await chunked.encoders.release();
});
