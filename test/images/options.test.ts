import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_IMAGE_OPTIONS, checkPreprocessSpec, imageOptions, type PreprocessSpec } from '../../src/images/index.js';
import { isClipnError } from '../../src/errors.js';

const rejectsWith = (fn: () => unknown, field: string, got: string) =>
  assert.throws(fn, (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && e.message.includes(field) && e.message.includes('expected') && e.message.includes(got), field);

test('defaults: 20 MiB, 40 megapixels, white, 4 decodes, 5 s fetch, private networks and file:// refused', () => {
  const o = imageOptions();
  assert.equal(o.maxBytes, 20 * 1024 * 1024);
  assert.equal(o.maxPixels, 40_000_000);
  assert.deepEqual(o.background, { r: 255, g: 255, b: 255 });
  assert.equal(o.decodeConcurrency, 4);
  assert.equal(o.allowSvg, false);
  assert.deepEqual({ ...o.fetch, allowedSchemes: [...o.fetch.allowedSchemes] }, { timeoutMs: 5000, maxBytes: 20 * 1024 * 1024, allowPrivateNetworks: false, allowedSchemes: ['https', 'http'], maxRedirects: 3 });
  assert.equal(o.fileRoot, null);
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.fetch) && Object.isFrozen(DEFAULT_IMAGE_OPTIONS));
});

test('given values override defaults, nested fetch options merge', () => {
  const o = imageOptions({ maxPixels: 100, fetch: { timeoutMs: 50 }, background: { r: 0, g: 0, b: 0 }, fileRoot: '/srv/images' });
  assert.equal(o.maxPixels, 100);
  assert.equal(o.fetch.timeoutMs, 50);
  assert.equal(o.fetch.maxRedirects, 3);
  assert.deepEqual(o.background, { r: 0, g: 0, b: 0 });
  assert.equal(o.fileRoot, '/srv/images');
});

test('invalid options name the field, what was expected and what was got', () => {
  rejectsWith(() => imageOptions({ maxBytes: 0 }), 'images.maxBytes', 'got 0');
  rejectsWith(() => imageOptions({ maxPixels: 1.5 }), 'images.maxPixels', 'got 1.5');
  rejectsWith(() => imageOptions({ decodeConcurrency: -1 }), 'images.decodeConcurrency', 'got -1');
  rejectsWith(() => imageOptions({ background: { r: 256, g: 0, b: 0 } }), 'images.background.r', 'got 256');
  rejectsWith(() => imageOptions({ fetch: { timeoutMs: Number.NaN } }), 'images.fetch.timeoutMs', 'got NaN');
  rejectsWith(() => imageOptions({ fetch: { maxRedirects: -1 } }), 'images.fetch.maxRedirects', 'got -1');
  rejectsWith(() => imageOptions({ fetch: { allowedSchemes: ['ftp' as 'http'] } }), 'images.fetch.allowedSchemes', 'got ["ftp"]');
  rejectsWith(() => imageOptions({ fileRoot: 'relative/dir' }), 'images.fileRoot', 'got "relative/dir"');
  assert.equal(imageOptions({ fetch: { maxRedirects: 0 } }).fetch.maxRedirects, 0);
});

test('preprocess spec: positive size, three finite means, three positive stds', () => {
  const good: PreprocessSpec = { imageSize: 224, mean: [0.48, 0.45, 0.4], std: [0.26, 0.26, 0.27] };
  assert.equal(checkPreprocessSpec(good), good);
  rejectsWith(() => checkPreprocessSpec({ ...good, imageSize: 0 }), 'imageSize', 'got 0');
  rejectsWith(() => checkPreprocessSpec({ ...good, mean: [0.4, 0.4] }), 'mean', 'got [0.4,0.4]');
  rejectsWith(() => checkPreprocessSpec({ ...good, std: [0.2, 0, 0.2] }), 'std', 'got [0.2,0,0.2]');
});
