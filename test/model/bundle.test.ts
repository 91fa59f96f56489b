import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle, readPrompt } from '../../src/model/index.js';
import { isClipnError } from '../../src/errors.js';

const DEMO = join(import.meta.dirname, '..', '..', 'models', 'demo');

function copy(): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'clipn-bundle-')), 'b');
  cpSync(DEMO, dir, { recursive: true });
  return dir;
}

test('the demo bundle loads and every checksum verifies', async () => {
  const b = await loadBundle(DEMO);
  assert.match(b.manifest.modelVersion, /^demo@[0-9a-f]{12}$/);
  const prompt = await readPrompt(b);
  assert.equal(prompt.length, b.manifest.prompt.shape[0] * b.manifest.prompt.shape[1]);
});

test('a missing file is named', async () => {
  const dir = copy();
  rmSync(join(dir, 'text_no.onnx'));
  await assert.rejects(loadBundle(dir), (e: unknown) => isClipnError(e, 'BUNDLE_FILE_MISSING') && /text_no\.onnx is missing/.test((e as Error).message));
});

test('one corrupted byte is caught and the file named', async () => {
  const dir = copy();
  const bytes = readFileSync(join(dir, 'image.onnx'));
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(join(dir, 'image.onnx'), bytes);
  await assert.rejects(loadBundle(dir), (e: unknown) => isClipnError(e, 'BUNDLE_CHECKSUM_MISMATCH') && /image\.onnx has sha256/.test((e as Error).message));
});

test('a truncated file is caught by its size', async () => {
  const dir = copy();
  writeFileSync(join(dir, 'tokenizer.json'), readFileSync(join(dir, 'tokenizer.json')).subarray(0, 100));
  await assert.rejects(loadBundle(dir), (e: unknown) => isClipnError(e, 'BUNDLE_CHECKSUM_MISMATCH') && /tokenizer\.json has 100 bytes/.test((e as Error).message));
});

test('a bad manifest names the field', async () => {
  const dir = copy();
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  manifest.preprocess.imageSize = -1;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  await assert.rejects(loadBundle(dir), (e: unknown) => isClipnError(e, 'BUNDLE_MANIFEST_INVALID') && /preprocess\.imageSize/.test((e as Error).message));
  writeFileSync(join(dir, 'manifest.json'), '{ not json');
  await assert.rejects(loadBundle(dir), (e: unknown) => isClipnError(e, 'BUNDLE_MANIFEST_INVALID'));
  await assert.rejects(loadBundle(join(dir, 'nope')), (e: unknown) => isClipnError(e, 'BUNDLE_FILE_MISSING'));
});
