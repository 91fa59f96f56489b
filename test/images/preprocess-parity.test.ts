/**
 * Parity of the sharp preprocessing with the PyTorch/PIL reference: the goldens in
 * test/fixtures/golden (made by `python -m clipn_kernel goldens`) hold, per image file, the
 * reference [3,S,S] float32 little-endian tensor. Measured differences: docs/preprocessing.md.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { preprocess, DEFAULT_IMAGE_OPTIONS, type PreprocessSpec } from '../../src/images/index.js';
import { absDiff, GOLDEN, readGoldenF32 } from '../helpers/golden.js';
import { ROOT } from '../helpers/clipn-cli.js';

const golden = JSON.parse(readFileSync(join(GOLDEN, 'golden.json'), 'utf8')) as {
  command: string;
  imageSize: number;
  images: Array<{ file: string; what: string; pixels: string }>;
};
// The goldens were made from the committed demo bundle: its manifest holds the constants.
const manifest = JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'manifest.json'), 'utf8')) as { preprocess: PreprocessSpec };
const spec: PreprocessSpec = manifest.preprocess;

/** One 8-bit level, in normalised units, for the channel with the smallest std: the rounding floor. */
const LEVEL = 1 / 255 / Math.min(...spec.std);
/** Tolerances: at most two 8-bit levels anywhere, and a quarter level on average (decoders and resamplers round differently). */
const MAX_ABS = 2 * LEVEL;
const MEAN_ABS = 0.25 * LEVEL;

const readF32 = readGoldenF32;

test('the goldens match the bundle the constants come from', () => {
  assert.equal(golden.imageSize, spec.imageSize, `golden.json imageSize vs models/demo manifest (regenerate: ${golden.command})`);
  assert.ok(golden.images.length > 0, 'golden.json lists images');
});

test(`sharp preprocessing equals the PIL reference within ${MAX_ABS.toFixed(4)} max abs, ${MEAN_ABS.toFixed(5)} mean abs`, async (t) => {
  let worst = 0;
  let sum = 0;
  let n = 0;
  for (const image of golden.images) {
    const want = readF32(image.pixels);
    const { tensor } = await preprocess(readFileSync(join(GOLDEN, image.file)), spec, DEFAULT_IMAGE_OPTIONS);
    assert.equal(tensor.length, want.length, `${image.file}: tensor length`);
    const { max, mean } = absDiff(tensor, want);
    const total = mean * want.length;
    t.diagnostic(`${image.file} (${image.what}): max abs ${max.toFixed(5)}, mean abs ${(total / want.length).toExponential(2)}`);
    assert.ok(max <= MAX_ABS, `${image.file}: max abs ${max} > ${MAX_ABS}`);
    assert.ok(total / want.length <= MEAN_ABS, `${image.file}: mean abs ${total / want.length} > ${MEAN_ABS}`);
    worst = Math.max(worst, max);
    sum += total;
    n += want.length;
  }
  t.diagnostic(`all ${golden.images.length} images: max abs ${worst.toFixed(5)}, mean abs ${(sum / n).toExponential(2)}`);
});
