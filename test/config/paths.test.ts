/** Path settings: given ones relative to the working folder, packaged defaults relative to the package, absolute ones kept. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { packageRoot } from '../../src/package-root.js';

const cwd = '/srv/work';

test('defaults that name what the package ships resolve against the package, data folders against the working folder', () => {
  const c = loadConfig({ env: {}, cwd });
  assert.equal(c.model.dir, join(packageRoot(), 'models', 'demo'));
  assert.equal(c.trainer.pythonBin, join(packageRoot(), 'training', '.venv', 'bin', 'python'));
  assert.equal(c.trainer.samplesDir, join(cwd, '.cache', 'trainer'));
  assert.equal(c.model.cacheDir, null);
  assert.equal(c.trainer.artifactStore, null);
});

test('given relative paths resolve against the working folder, from the file, the environment or overrides alike', () => {
  const c = loadConfig({
    env: { CLIPN_MODEL__DIR: 'bundles/v2', CLIPN_MODEL__CACHE_DIR: 'cache', CLIPN_TRAINER__PYTHON_BIN: 'venv/bin/python' },
    overrides: { images: { fileRoot: 'images' }, trainer: { artifactStore: 'releases' } },
    cwd,
  });
  assert.equal(c.model.dir, '/srv/work/bundles/v2');
  assert.equal(c.model.cacheDir, '/srv/work/cache');
  assert.equal(c.trainer.pythonBin, '/srv/work/venv/bin/python');
  assert.equal(c.images.fileRoot, '/srv/work/images');
  assert.equal(c.trainer.artifactStore, '/srv/work/releases');
  // Given the same text as the default, the operator's working folder wins.
  assert.equal(loadConfig({ env: { CLIPN_MODEL__DIR: 'models/demo' }, cwd }).model.dir, '/srv/work/models/demo');
});

test('absolute paths, file:// URIs and bare command names are kept as they are', () => {
  const c = loadConfig({
    env: { CLIPN_MODEL__CACHE_DIR: '/var/cache/clipn', CLIPN_TRAINER__PYTHON_BIN: 'python3', CLIPN_TRAINER__ARTIFACT_STORE: 'file:///var/releases' },
    cwd,
  });
  // An absolute cache folder stays itself in every service (it used to become a path under the package for the trainer).
  assert.equal(c.model.cacheDir, '/var/cache/clipn');
  assert.equal(c.trainer.pythonBin, 'python3');
  assert.equal(c.trainer.artifactStore, 'file:///var/releases');
});
