import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { readReleaseArtifact } from '../../src/stream/release-artifact.js';

const dir = mkdtempSync(join(tmpdir(), 'clipn-artifact-'));
const root = join(dir, 'store');
mkdirSync(root);
const graph = Buffer.from('not really an onnx graph, but bytes to verify');
const sha = createHash('sha256').update(graph).digest('hex');
writeFileSync(join(root, 'text_no.onnx'), graph);
writeFileSync(join(dir, 'outside.onnx'), graph);
symlinkSync(join(dir, 'outside.onnx'), join(root, 'escape.onnx'));
const ref = (path: string, over: Partial<{ sha256: string; bytes: number }> = {}) => ({ uri: pathToFileURL(path).href, sha256: sha, bytes: graph.length, ...over });

const refused = (pattern: RegExp) => (e: unknown) => {
  assert.equal((e as { code?: string }).code, 'RELEASE_INVALID');
  assert.match((e as Error).message, pattern);
  return true;
};

test('a verified artifact under the root is read (file:// URI or absolute path)', async () => {
  assert.deepEqual(Buffer.from(await readReleaseArtifact(ref(join(root, 'text_no.onnx')), root, 'v1')), graph);
  assert.deepEqual(Buffer.from(await readReleaseArtifact({ ...ref(''), uri: join(root, 'text_no.onnx') }, root, 'v1')), graph);
});

test('no configured root refuses every no-tower release', async () => {
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx')), null, 'v1'), refused(/release v1: no-tower releases are refused: model.releaseArtifactRoot is not set/));
});

test('a file outside the root is refused, also through a symbolic link inside it', async () => {
  await assert.rejects(readReleaseArtifact(ref(join(dir, 'outside.onnx')), root, 'v2'), refused(/is outside model.releaseArtifactRoot/));
  await assert.rejects(readReleaseArtifact(ref(join(root, 'escape.onnx')), root, 'v2'), refused(/is outside model.releaseArtifactRoot/));
  await assert.rejects(readReleaseArtifact(ref(join(root, '..', 'outside.onnx')), root, 'v2'), refused(/is outside/));
});

test('a size or sha256 that does not match the declared one is refused', async () => {
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx'), { bytes: graph.length + 1 }), root, 'v3'), refused(/has \d+ bytes, the release declares \d+/));
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx'), { sha256: 'f'.repeat(64) }), root, 'v3'), refused(/sha256 [0-9a-f]{64} does not match the declared f{64}/));
});

test('a missing file, a relative path and an absurd size are refused with the reason', async () => {
  await assert.rejects(readReleaseArtifact(ref(join(root, 'gone.onnx')), root, 'v4'), refused(/cannot be read/));
  await assert.rejects(readReleaseArtifact({ ...ref(''), uri: 'store/text_no.onnx' }, root, 'v4'), refused(/expected an absolute path or file:\/\/ URI, got a relative one/));
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx'), { bytes: -1 }), root, 'v4'), refused(/artifact size -1: expected 1 to/));
});

test('a declared size over the bound is refused before the file is read; a bad sha256 before it is opened', async () => {
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx')), root, 'v5', graph.length - 1), refused(new RegExp(`artifact size ${graph.length}: expected 1 to ${graph.length - 1} bytes \\(trust.maxArtifactBytes\\)`)));
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx'), { sha256: 'not-hex' }), root, 'v5'), refused(/artifact sha256: expected 64 lowercase hex digits, got "not-hex"/));
  await assert.rejects(readReleaseArtifact(ref(join(root, 'text_no.onnx'), { bytes: 4 * 1024 ** 3 }), root, 'v5'), refused(/expected 1 to 2147483648 bytes/));
});

test('a file of several hash chunks is verified and read whole', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024 + 17);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
  writeFileSync(join(root, 'big.onnx'), big);
  const bigRef = { uri: join(root, 'big.onnx'), sha256: createHash('sha256').update(big).digest('hex'), bytes: big.length };
  assert.ok(Buffer.from(await readReleaseArtifact(bigRef, root, 'v6')).equals(big));
  await assert.rejects(readReleaseArtifact({ ...bigRef, sha256: sha }, root, 'v6'), refused(/does not match the declared/));
});
