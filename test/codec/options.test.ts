import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec, DEFAULT_DECODE_LIMITS, DEFAULT_REGISTRY_TIMEOUT_MS, defaultSchemasDir, resolveCodecOptions } from '../../src/codec/index.js';
import { isClipnError } from '../../src/errors.js';

test('defaults: the package schemas folder and the registry timeout', () => {
  const resolved = resolveCodecOptions({ registryUrl: null });
  assert.equal(resolved.registryUrl, null);
  assert.equal(resolved.registryTimeoutMs, DEFAULT_REGISTRY_TIMEOUT_MS);
  assert.equal(resolved.schemasDir, defaultSchemasDir());
  assert.ok(existsSync(join(resolved.schemasDir, 'LabelSet.avsc')));
  assert.equal(resolveCodecOptions({ registryUrl: 'https://registry:8081/' }).registryUrl?.host, 'registry:8081');
});

test('decode limits: documented defaults, and overrides kept', () => {
  const resolved = resolveCodecOptions({ registryUrl: null });
  assert.deepEqual(DEFAULT_DECODE_LIMITS, { maxNestingDepth: 64, maxZeroByteItems: 1_000_000, maxZeroByteItemsPerRecord: 1_000_000 });
  assert.equal(resolved.maxNestingDepth, 64);
  assert.equal(resolved.maxZeroByteItems, 1_000_000);
  assert.equal(resolved.maxZeroByteItemsPerRecord, 1_000_000);
  const custom = resolveCodecOptions({ registryUrl: null, maxNestingDepth: 8, maxZeroByteItems: 10, maxZeroByteItemsPerRecord: 15 });
  assert.deepEqual([custom.maxNestingDepth, custom.maxZeroByteItems, custom.maxZeroByteItemsPerRecord], [8, 10, 15]);
});

test('bad options are CONFIG_INVALID naming the option, without credentials', () => {
  const invalid = (options: Parameters<typeof resolveCodecOptions>[0], pattern: RegExp) =>
    assert.throws(() => resolveCodecOptions(options), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && pattern.test(e.message) && !e.message.includes('hunter2'));
  invalid({ registryUrl: 'ftp://registry' }, /registryUrl: expected an http\(s\) URL, got scheme ftp:/);
  invalid({ registryUrl: 'http://u:hunter2@' }, /registryUrl: expected an http\(s\) URL/);
  invalid({ registryUrl: null, registryTimeoutMs: 0 }, /registryTimeoutMs: expected an integer >= 1, got 0/);
  invalid({ registryUrl: null, maxNestingDepth: 0 }, /maxNestingDepth: expected an integer in 1\.\.1000, got 0/);
  invalid({ registryUrl: null, maxNestingDepth: 1001 }, /maxNestingDepth: expected an integer in 1\.\.1000, got 1001/);
  invalid({ registryUrl: null, maxZeroByteItems: 1.5 }, /maxZeroByteItems: expected an integer >= 1, got 1\.5/);
  invalid({ registryUrl: null, maxZeroByteItemsPerRecord: -1 }, /maxZeroByteItemsPerRecord: expected an integer >= 1, got -1/);
});

test('a schemas folder without the record schemas is refused, naming the file', () => {
  const empty = mkdtempSync(join(tmpdir(), 'clipn-empty-schemas-'));
  assert.throws(() => createCodec({ registryUrl: null, schemasDir: empty }), (e: unknown) => isClipnError(e, 'INTERNAL') && /ImageRequest\.avsc: expected in/.test(e.message));
  assert.throws(() => createCodec({ registryUrl: null, schemasDir: join(empty, 'missing') }), (e: unknown) => isClipnError(e, 'INTERNAL') && /expected a readable folder, got ENOENT/.test(e.message));
});
