import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
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

/** Rewrites a bundle file and the manifest's entries for it, so that loadBundle accepts it. */
function rewrite(dir: string, name: string, bytes: Buffer, updatePromptSha: boolean): void {
  writeFileSync(join(dir, name), bytes);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const sha = createHash('sha256').update(bytes).digest('hex');
  manifest.files[name] = { sha256: sha, bytes: bytes.length };
  if (updatePromptSha) manifest.prompt.sha256 = sha;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
}

test('the prompt is checked against prompt.sha256, also after loading', async () => {
  const dir = copy();
  const b = await loadBundle(dir);
  const bytes = readFileSync(join(dir, 'prompt.bin'));
  bytes[8] ^= 0x01;
  writeFileSync(join(dir, 'prompt.bin'), bytes);
  await assert.rejects(readPrompt(b), (e: unknown) => isClipnError(e, 'BUNDLE_CHECKSUM_MISMATCH') && /prompt\.bin has sha256 .*prompt\.sha256 says/.test((e as Error).message));
  // The files entry matches but prompt.sha256 still names the old content.
  rewrite(dir, 'prompt.bin', bytes, false);
  await assert.rejects(
    readPrompt(await loadBundle(dir)),
    (e: unknown) => isClipnError(e, 'BUNDLE_CHECKSUM_MISMATCH') && (e as { details: Record<string, unknown> }).details.file === 'prompt.bin',
  );
});

test('a prompt of the wrong size or with a NaN is refused even with matching checksums', async () => {
  const dir = copy();
  const bytes = readFileSync(join(dir, 'prompt.bin'));
  const nan = Buffer.from(bytes);
  nan.writeFloatLE(Number.NaN, 4 * 7);
  rewrite(dir, 'prompt.bin', nan, true);
  await assert.rejects(readPrompt(await loadBundle(dir)), (e: unknown) => isClipnError(e, 'RELEASE_INVALID') && /value 7 is not finite/.test((e as Error).message));
  rewrite(dir, 'prompt.bin', bytes.subarray(0, bytes.length - 4), true);
  await assert.rejects(readPrompt(await loadBundle(dir)), (e: unknown) => isClipnError(e, 'RELEASE_INVALID') && /expected 77x\d+ = \d+ float32 values, got \d+/.test((e as Error).message));
});

test('a file used by the manifest but not listed in "files" is refused', async () => {
  const dir = copy();
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  delete manifest.files['text.onnx'];
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  await assert.rejects(loadBundle(dir), (e: unknown) => isClipnError(e, 'BUNDLE_MANIFEST_INVALID') && /text\.onnx is used but has no entry/.test((e as Error).message));
});
