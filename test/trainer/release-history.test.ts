import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { historyDir, nextVersion, ReleaseHistory, releaseToJson } from '../../src/trainer/release-history.js';
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
  writeFileSync(join(src, 'prompt-set.bin'), 'PP');
  const history = new ReleaseHistory(join(dir, 'h'));
  await history.save(release('m/p2', 20), { 'prompt-set.bin': join(src, 'prompt-set.bin') });
  await history.save(release('m/p1', 10), {});
  assert.deepEqual((await history.list()).map((r) => r.record.version), ['m/p1', 'm/p2']);
  const got = await history.get('m/p2');
  assert.deepEqual(got!.record, release('m/p2', 20));
  assert.equal(readFileSync(got!.files['prompt-set.bin']!, 'utf8'), 'PP');
  assert.equal(await history.get('m/p9'), null);
  await assert.rejects(history.save(release('m/p1', 30), {}), /already kept/);
  assert.ok(history.uriOf('m/p2', 'text_no.onnx').startsWith('file:///'));
});

test('a release folder of the old layout (prompts.bin) is upgraded to prompt-set.bin once, when read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-history-'));
  const history = new ReleaseHistory(join(dir, 'h'));
  // As an earlier version left it: the prompt set under its one-letter-off name, listed so in result.json.
  const old = history.folderOf('m/p1');
  mkdirSync(old, { recursive: true });
  writeFileSync(join(old, 'release.json'), JSON.stringify(releaseToJson(release('m/p1', 10))));
  writeFileSync(join(old, 'prompt.bin'), 'P');
  writeFileSync(join(old, 'prompts.bin'), 'PP');
  const entry = (bytes: number): { sha256: string; bytes: number } => ({ sha256: 'x'.repeat(64), bytes });
  writeFileSync(join(old, 'result.json'), JSON.stringify({ mode: 'prompts', args: { bundle: 'b', 'init-prompts': '', epochs: '2' }, files: { 'prompt.bin': entry(1), 'prompts.bin': entry(2) } }));

  const [got] = await history.list();
  assert.deepEqual(Object.keys(got!.files).sort(), ['prompt-set.bin', 'prompt.bin', 'result.json']);
  assert.equal(readFileSync(got!.files['prompt-set.bin']!, 'utf8'), 'PP');
  assert.ok(!existsSync(join(old, 'prompts.bin')));
  const result = JSON.parse(readFileSync(join(old, 'result.json'), 'utf8'));
  assert.deepEqual(result.files, { 'prompt.bin': entry(1), 'prompt-set.bin': entry(2) });
  assert.deepEqual(Object.keys(result.args), ['bundle', 'init-prompt-set', 'epochs'], 'the argument keeps its place under its new name');
  assert.deepEqual(readdirSync(old).sort(), ['prompt-set.bin', 'prompt.bin', 'release.json', 'result.json'], 'no temporary file left');

  // A second read changes nothing.
  const before = Object.fromEntries(readdirSync(old).map((n) => [n, [statSync(join(old, n)).mtimeMs, readFileSync(join(old, n), 'utf8')]]));
  const again = await history.get('m/p1');
  assert.deepEqual(again!.files, got!.files);
  assert.deepEqual(Object.fromEntries(readdirSync(old).map((n) => [n, [statSync(join(old, n)).mtimeMs, readFileSync(join(old, n), 'utf8')]])), before);
});

test('an old folder half upgraded (result.json rewritten, the file not yet renamed) is finished on the next read', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-history-'));
  const history = new ReleaseHistory(dir);
  const old = history.folderOf('m/p1');
  mkdirSync(old);
  writeFileSync(join(old, 'release.json'), JSON.stringify(releaseToJson(release('m/p1', 10))));
  writeFileSync(join(old, 'prompts.bin'), 'PP');
  const result = JSON.stringify({ files: { 'prompt-set.bin': { sha256: 'y', bytes: 2 } } });
  writeFileSync(join(old, 'result.json'), result);
  const got = await history.get('m/p1');
  assert.deepEqual(Object.keys(got!.files).sort(), ['prompt-set.bin', 'result.json']);
  assert.equal(readFileSync(join(old, 'result.json'), 'utf8'), result, 'already upgraded: not rewritten');
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
