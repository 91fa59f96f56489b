import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { historyDir, nextVersion, ReleaseHistory } from '../../src/trainer/release-history.js';
import type { ModelRelease } from '../../src/codec/index.js';
import { isClipnError } from '../../src/errors.js';

const release = (version: string, createdAt: number): ModelRelease => ({
  model: 'demo', version, parentVersion: 'm/p0', kind: 'prompt', baseModelVersion: 'm',
  prompt: { shape: [1, 2], dtype: 'float32', data: Buffer.from([0, 0, 128, 63, 0, 0, 0, 64]), sha256: 'x' }, artifact: null,
  lineage: { sampleCount: 3, metrics: { atdAuroc: 0.9 }, kernelArgs: { epochs: '2' } }, createdAt,
});

test('releases are kept with their files and listed oldest first; a version is kept once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-history-'));
  const src = join(dir, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'prompts.bin'), 'PP');
  const history = new ReleaseHistory(join(dir, 'h'));
  await history.save(release('m/p2', 20), { 'prompts.bin': join(src, 'prompts.bin') });
  await history.save(release('m/p1', 10), {});
  assert.deepEqual((await history.list()).map((r) => r.record.version), ['m/p1', 'm/p2']);
  const got = await history.get('m/p2');
  assert.deepEqual(got!.record, release('m/p2', 20));
  assert.equal(readFileSync(got!.files['prompts.bin']!, 'utf8'), 'PP');
  assert.equal(await history.get('m/p9'), null);
  await assert.rejects(history.save(release('m/p1', 30), {}), /already kept/);
  assert.ok(history.uriOf('m/p2', 'text_no.onnx').startsWith('file:///'));
});

test('versions grow past every known one of the same base', () => {
  assert.equal(nextVersion('m', []), 'm/p1');
  assert.equal(nextVersion('m', ['m/p0', 'm/p7', 'other/p20', 'm/p3']), 'm/p8');
});

test('the history folder: artifactStore as a path or file:// URI, else under samplesDir', () => {
  assert.equal(historyDir(null, '.cache/t', '/root'), '/root/.cache/t/releases');
  assert.equal(historyDir('store', '.cache/t', '/root'), '/root/store');
  assert.equal(historyDir(pathToFileURL('/var/rel').href, '.cache/t', '/root'), '/var/rel');
  assert.throws(() => historyDir('https://example.com/rel', 'x', '/root'), (e) => isClipnError(e, 'CONFIG_INVALID'));
});
