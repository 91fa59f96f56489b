import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envToTree, loadConfig, redactConfig } from '../../src/config/index.js';
import { isClipnError } from '../../src/errors.js';

test('defaults load with no file and no environment', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.model.dir, 'models/demo');
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(c.processing.delivery, 'at-least-once');
  assert.equal(c.telemetry.http.port, 9464);
});

test('environment names map to nested camelCase paths', () => {
  assert.deepEqual(envToTree({ CLIPN_PROCESSING__MAX_WAIT_MS: '5', OTHER: 'x', CLIPN_KAFKA__TOPICS__DEAD_LETTER: 'dlq' }), {
    processing: { maxWaitMs: '5' },
    kafka: { topics: { deadLetter: 'dlq' } },
  });
});

test('file, then environment, then overrides; values coerced', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-config-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ processing: { maxBatch: 4, maxWaitMs: 9 }, kafka: { groupId: 'from-file' } }));
  const c = loadConfig({ file, env: { CLIPN_PROCESSING__MAX_BATCH: '32', CLIPN_KAFKA__SSL: 'true', CLIPN_KAFKA__BROKERS: 'a:1, b:2' }, overrides: { kafka: { groupId: 'cli' } } });
  assert.equal(c.processing.maxBatch, 32);
  assert.equal(c.processing.maxWaitMs, 9);
  assert.equal(c.kafka.ssl, true);
  assert.deepEqual(c.kafka.brokers, ['a:1', 'b:2']);
  assert.equal(c.kafka.groupId, 'cli');
});

test('every bad value is named by its path with what was got', () => {
  assert.throws(
    () => loadConfig({ env: { CLIPN_PROCESSING__MAX_BATCH: '-3', CLIPN_PROCESSING__DELIVERY: 'maybe', CLIPN_KAFKA__BROKERS: 'nohostport' } }),
    (e: unknown) => {
      assert.ok(isClipnError(e, 'CONFIG_INVALID'));
      assert.match(e.message, /processing\.maxBatch: .*got "-3"/);
      assert.match(e.message, /processing\.delivery: .*got "maybe"/);
      assert.match(e.message, /kafka\.brokers\.0: expected host:port/);
      return true;
    },
  );
  assert.throws(() => loadConfig({ file: '/nonexistent/config.json', env: {} }), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
});

test('the result is deeply frozen', () => {
  const c = loadConfig({ env: {} });
  assert.throws(() => {
    (c.processing as { maxBatch: number }).maxBatch = 1;
  }, TypeError);
  assert.throws(() => {
    (c.kafka.brokers as string[]).push('x:1');
  }, TypeError);
});

test('redaction hides the SASL password and URL credentials', () => {
  const c = loadConfig({
    env: { CLIPN_KAFKA__SASL__MECHANISM: 'plain', CLIPN_KAFKA__SASL__USERNAME: 'u', CLIPN_KAFKA__SASL__PASSWORD: 'hunter2', CLIPN_CODEC__REGISTRY_URL: 'https://bob:pw@registry:8081' },
  });
  const text = JSON.stringify(redactConfig(c));
  assert.ok(!text.includes('hunter2'));
  assert.ok(!text.includes('bob:pw'));
  assert.match(text, /\[redacted\]/);
});
