import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clipn, ROOT } from '../helpers/clipn-cli.js';

test('classify --json on a folder: a line per image, coded errors for bad files, exit 2', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-classify-'));
  cpSync(join(ROOT, 'models', 'demo-heldout', 'id', 'star'), join(dir, 'star'), { recursive: true });
  const png = readFileSync(join(ROOT, 'models', 'demo-heldout', 'id', 'circle', '000.png'));
  writeFileSync(join(dir, 'truncated.png'), png.subarray(0, png.length >> 1));
  const jpeg = readFileSync(join(ROOT, 'test', 'fixtures', 'golden', 'images', '10-jpeg-odd.jpg'));
  writeFileSync(join(dir, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  writeFileSync(join(dir, 'zero.jpg'), Buffer.alloc(0));
  writeFileSync(join(dir, 'text.jpg'), 'not an image at all');
  const { code, stdout } = await clipn(['classify', '--labels', join(ROOT, 'models', 'demo', 'labels.json'), '--json', dir]);
  assert.equal(code, 2);
  const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
  const errors = Object.fromEntries(lines.filter((l) => l.error).map((l) => [l.file.split('/').pop(), l.error.code]));
  assert.deepEqual(errors, { 'text.jpg': 'IMAGE_UNSUPPORTED_FORMAT', 'truncated.jpg': 'IMAGE_TRUNCATED', 'truncated.png': 'IMAGE_TRUNCATED', 'zero.jpg': 'IMAGE_EMPTY' });
  const ok = lines.filter((l) => !l.error);
  assert.equal(ok.length, 40);
  for (const l of ok) {
    assert.ok(['circle', 'square', 'triangle', 'star', 'cross', 'ring'].includes(l.label));
    assert.equal(typeof l.scores.ctw, 'number');
    assert.equal(typeof l.ood.atd, 'boolean');
  }
});

test('classify prints a table and exits 0 when every file is fine', { timeout: 60_000 }, async () => {
  const file = join(ROOT, 'models', 'demo-heldout', 'id', 'ring', '000.png');
  const { code, stdout } = await clipn(['classify', '--labels', 'circle,ring,star', file]);
  assert.equal(code, 0);
  assert.match(stdout, /1 classified, 0 failed/);
});

test('a bad label set or model folder fails with a coded message, exit 1', { timeout: 60_000 }, async () => {
  const a = await clipn(['classify', '--labels', ',', join(ROOT, 'models', 'demo-heldout', 'id')]);
  assert.equal(a.code, 1);
  assert.match(a.stderr, /LABEL_SET_INVALID/);
  const b = await clipn(['classify', '--model', '/nonexistent', '--labels', 'a', join(ROOT, 'models', 'demo-heldout', 'id')]);
  assert.equal(b.code, 1);
  assert.match(b.stderr, /BUNDLE_FILE_MISSING/);
});
