import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClipnEncoders, ClipTokenizer, loadBundle, readPrompt, sha256File, type Manifest } from '../../src/model/index.js';
import { isClipnError } from '../../src/errors.js';
import { GOLDEN, readGoldenF32, relErr } from '../helpers/golden.js';
import { ROOT } from '../helpers/clipn-cli.js';

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

/** A copy of the demo bundle whose text graphs are the fixed 77-position graphs bundles had before the dynamic axis. */
async function fixedLengthBundle(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-fixed-'));
  const demo = join(ROOT, 'models', 'demo');
  const manifest = JSON.parse(readFileSync(join(demo, 'manifest.json'), 'utf8')) as Manifest;
  for (const name of Object.keys(manifest.files)) copyFileSync(join(demo, name), join(dir, name));
  for (const name of ['text.onnx', 'text_no.onnx']) {
    copyFileSync(join(FIXED, name), join(dir, name));
    manifest.files[name] = { sha256: await sha256File(join(dir, name)), bytes: statSync(join(dir, name)).size };
  }
  for (const g of [manifest.graphs.text, manifest.graphs.textNo]) {
    g.inputs[0]!.shape = ['batch', 77];
    delete (g as Record<string, unknown>).fused;
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

const FIXED = join(import.meta.dirname, '..', 'fixtures', 'fixed-length');
const TEXTS = ['a', 'a photo of a circle', 'one red star and two blue rings drawn on a white sheet of paper with a thick pen', 'a ring', 'a photo of a circle', '🐶 café'];

test('texts at their true length give the embeddings of all 77 positions (1e-5), in input order', async () => {
  const { bundle, encoders } = await load(2);
  assert.deepEqual(encoders.textLengths, { yes: 'dynamic', no: 'dynamic' });
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  const prompt = await readPrompt(bundle);
  const rows = TEXTS.map((t) => tokenizer.encodeOne(t));
  const full = tokenizer.encode(TEXTS);
  assert.ok(maxRelDiff(await encoders.encodeTextRows(rows), await encoders.encodeTexts(full, TEXTS.length)) < 1e-5);
  assert.ok(maxRelDiff(await encoders.encodeTextRowsNo(rows, prompt), await encoders.encodeTextsNo(full, TEXTS.length, prompt)) < 1e-5);
  // The goldens, through the length-batched path.
  const goldenRows = golden.texts.map((t) => tokenizer.encodeOne(t));
  assert.ok(maxRelDiff(await encoders.encodeTextRows(goldenRows), f32('tensors/text_yes.bin')) < 1e-4);
  assert.ok(maxRelDiff(await encoders.encodeTextRowsNo(goldenRows, prompt), f32('tensors/text_no.bin')) < 1e-4);
  assert.equal((await encoders.encodeTextRows([])).length, 0);
  await assert.rejects(encoders.encodeTextRows([[]]), (e: unknown) => isClipnError(e, 'INFERENCE_FAILED') && /text 0: expected 1 to 77 token ids/.test((e as Error).message));
  await assert.rejects(encoders.encodeTextRows([new Array<number>(78).fill(1)]), (e: unknown) => isClipnError(e, 'INFERENCE_FAILED'));
  await encoders.release();
});

test('a text run holds at most maxBatch x 77 tokens: short texts share bigger batches', async () => {
  const { bundle, encoders } = await load(1);
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  const texts = Array.from({ length: 40 }, (_, i) => (i % 2 ? `a photo of a circle ${i}` : `ring ${i}`));
  const rows = texts.map((t) => tokenizer.encodeOne(t));
  const dims: number[][] = [];
  const session = (encoders as unknown as { text: { run: (f: Record<string, { dims: number[] }>) => Promise<unknown> } }).text;
  const run = session.run.bind(session);
  session.run = (feeds) => {
    dims.push([...feeds.input_ids!.dims]);
    return run(feeds);
  };
  const got = await encoders.encodeTextRows(rows);
  assert.ok(dims.length < texts.length, `${dims.length} runs for ${texts.length} texts`);
  for (const [b, l] of dims) assert.ok(b! * l! <= 77, `a run of ${b}x${l}`);
  const one = await load(64);
  assert.ok(maxRelDiff(got, await one.encoders.encodeTexts(tokenizer.encode(texts), texts.length)) < 1e-5);
  await encoders.release();
  await one.encoders.release();
});

test('bundles with fixed 77-position text graphs keep working: detected, padded to 77, same embeddings', async () => {
  const dir = await fixedLengthBundle();
  try {
    const fixed = await loadBundle(dir);
    const encoders = await ClipnEncoders.load(fixed, { executionProviders: ['cpu'], intraOpThreads: 1, interOpThreads: 1, graphOptimization: 'all', maxBatch: 4 });
    assert.deepEqual(encoders.textLengths, { yes: 'fixed', no: 'fixed' });
    const tokenizer = await ClipTokenizer.fromBundle(fixed);
    const prompt = await readPrompt(fixed);
    const goldenRows = golden.texts.map((t) => tokenizer.encodeOne(t));
    assert.ok(maxRelDiff(await encoders.encodeTextRows(goldenRows), f32('tensors/text_yes.bin')) < 1e-4);
    assert.ok(maxRelDiff(await encoders.encodeTextRowsNo(goldenRows, prompt), f32('tensors/text_no.bin')) < 1e-4);
    const current = await load(4);
    const rows = TEXTS.map((t) => tokenizer.encodeOne(t));
    assert.ok(maxRelDiff(await encoders.encodeTextRows(rows), await current.encoders.encodeTextRows(rows)) < 1e-5);
    // A fixed-length no tower released onto a bundle with dynamic graphs (an older trainer's graph).
    const released = await current.encoders.withTextNo(readFileSync(join(FIXED, 'text_no.onnx')), 'fixed text_no.onnx');
    assert.deepEqual(released.textLengths, { yes: 'dynamic', no: 'fixed' });
    assert.ok(maxRelDiff(await released.encodeTextRowsNo(rows, prompt), await current.encoders.encodeTextRowsNo(rows, prompt)) < 1e-5);
    await released.releaseTextNo();
    await current.encoders.release();
    await encoders.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
