import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { isClipnError } from '../../src/errors.js';
import { packageRoot } from '../../src/package-root.js';

const MiB = 1024 * 1024;

function configFile(content: unknown, name = 'config.json'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'clipn-config-')), name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The problems of a CONFIG_INVALID, one per entry. */
function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (e) {
    assert.ok(isClipnError(e, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(e)}`);
    return (e.details.problems as string[] | undefined) ?? [e.message];
  }
  assert.fail('expected the configuration to be refused');
}

test('defaults load with no file and no environment', () => {
  const c = loadConfig({ env: {} });
  // The default bundle is the package's own, wherever the process runs (test/config/paths.test.ts).
  assert.equal(c.model.dir, join(packageRoot(), 'models', 'demo'));
  assert.deepEqual(c.model.executionProviders, ['cpu']);
  assert.equal(c.model.graphOptimization, 'all');
  assert.equal(c.images.maxBytes, 20 * MiB);
  assert.deepEqual(c.images.background, { r: 255, g: 255, b: 255 });
  assert.equal(c.images.fetch.allowPrivateNetworks, false);
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(c.kafka.sasl, null);
  assert.deepEqual(c.kafka.topics.input, ['clipn.images']);
  assert.equal(c.kafka.topics.deadLetter, 'clipn.dlq');
  assert.equal(c.processing.delivery, 'at-least-once');
  assert.equal(c.processing.review.image, 'reference');
  assert.equal(c.processing.deadLetter.maxValueBytes, MiB);
  assert.equal(c.codec.registryUrl, null);
  assert.equal(c.telemetry.http.port, 9464);
  assert.equal(c.trainer.schedule, null);
  assert.equal(c.trainer.retention.maxSamples, 100_000);
});

test('file, then environment, then overrides; nested groups merge key by key', () => {
  const file = configFile({ processing: { maxBatch: 4, maxWaitMs: 9 }, kafka: { groupId: 'from-file', clientId: 'file-client' } });
  const c = loadConfig({
    file,
    env: { CLIPN_PROCESSING__MAX_BATCH: '32', CLIPN_KAFKA__GROUP_ID: 'from-env' },
    overrides: { kafka: { groupId: 'from-flags' } },
  });
  assert.equal(c.processing.maxBatch, 32, 'env wins over the file');
  assert.equal(c.processing.maxWaitMs, 9, 'the file wins over defaults');
  assert.equal(c.kafka.clientId, 'file-client');
  assert.equal(c.kafka.groupId, 'from-flags', 'overrides win over env');
  assert.equal(c.processing.maxInFlight, 256, 'untouched defaults stay');
});

test('the file can be named by CLIPN_CONFIG; null means no file', () => {
  const file = configFile({ telemetry: { logLevel: 'debug' } });
  assert.equal(loadConfig({ env: { CLIPN_CONFIG: file } }).telemetry.logLevel, 'debug');
  assert.equal(loadConfig({ file: null, env: { CLIPN_CONFIG: file } }).telemetry.logLevel, 'info');
});

test('environment strings are coerced: numbers, booleans, lists, units, nulls, nested groups', () => {
  const c = loadConfig({
    env: {
      CLIPN_KAFKA__BROKERS: 'a:9092, b:9093,',
      CLIPN_KAFKA__SSL: 'true',
      CLIPN_IMAGES__FETCH__ALLOW_PRIVATE_NETWORKS: '1',
      CLIPN_MODEL__EXECUTION_PROVIDERS: '["cuda","cpu"]',
      CLIPN_MODEL__INTRA_OP_THREADS: '2',
      CLIPN_IMAGES__MAX_BYTES: '5MiB',
      CLIPN_PROCESSING__DEAD_LETTER__MAX_VALUE_BYTES: '512KiB',
      CLIPN_TRAINER__SCHEDULE: '6h',
      CLIPN_TRAINER__HELD_OUT_SHARE: '0.25',
      CLIPN_IMAGES__BACKGROUND: '#0F0',
      CLIPN_MODEL__CACHE_DIR: '',
      CLIPN_KAFKA__SASL__MECHANISM: 'scram-sha-512',
      CLIPN_KAFKA__SASL__USERNAME: 'svc',
      CLIPN_KAFKA__SASL__PASSWORD: 'pw',
      CLIPN_PROCESSING__REVIEW__TOP_K: '3',
    },
  });
  assert.deepEqual(c.kafka.brokers, ['a:9092', 'b:9093']);
  assert.equal(c.kafka.ssl, true);
  assert.equal(c.images.fetch.allowPrivateNetworks, true);
  assert.deepEqual(c.model.executionProviders, ['cuda', 'cpu']);
  assert.equal(c.model.intraOpThreads, 2);
  assert.equal(c.images.maxBytes, 5 * MiB);
  assert.equal(c.processing.deadLetter.maxValueBytes, 512 * 1024);
  assert.equal(c.trainer.schedule, 6 * 3600 * 1000);
  assert.equal(c.trainer.heldOutShare, 0.25);
  assert.deepEqual(c.images.background, { r: 0, g: 255, b: 0 });
  assert.equal(c.model.cacheDir, null);
  assert.deepEqual({ ...c.kafka.sasl }, { mechanism: 'scram-sha-512', username: 'svc', password: 'pw' });
  assert.equal(c.processing.review.topK, 3);
});

test('variables that are not settings are left alone', () => {
  const c = loadConfig({ env: { CLIPN_KAFKA_PORT: '19092', CLIPN_TEST_BROKERS: 'x', OTHER__THING: 'y', CLIPN_CONFIG: '' } });
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
});

test('every bad value is reported at once, naming its path, its variable, expected and got', () => {
  const lines = problems(() =>
    loadConfig({
      env: {
        CLIPN_PROCESSING__MAX_BATCH: '-3',
        CLIPN_PROCESSING__DELIVERY: 'maybe',
        CLIPN_KAFKA__BROKERS: 'a:1,nohostport',
        CLIPN_TELEMETRY__HTTP__PORT: 'abc',
        CLIPN_CODEC__REGISTRY_URL: 'ftp://registry',
        CLIPN_TRAINER__HELD_OUT_SHARE: '1',
        CLIPN_IMAGES__BACKGROUND: 'white',
      },
    }),
  );
  assert.deepEqual(lines, [
    'images.background (CLIPN_IMAGES__BACKGROUND): expected a colour #rrggbb, got "white"',
    'kafka.brokers.1 (CLIPN_KAFKA__BROKERS): expected host:port (an IPv6 host in brackets) with a port from 1 to 65535, got "nohostport"',
    'processing.maxBatch (CLIPN_PROCESSING__MAX_BATCH): expected integer >= 1, got -3',
    'processing.delivery (CLIPN_PROCESSING__DELIVERY): expected one of at-least-once, exactly-once, got "maybe"',
    'codec.registryUrl (CLIPN_CODEC__REGISTRY_URL): expected an http(s) URL, got "ftp://registry"',
    'telemetry.http.port (CLIPN_TELEMETRY__HTTP__PORT): expected integer in [0, 65535], got "abc"',
    'trainer.heldOutShare (CLIPN_TRAINER__HELD_OUT_SHARE): expected number in (0, 1), got 1',
  ]);
});

test('values from a file are checked by type, and the message says which file', () => {
  const file = configFile({ processing: { maxBatch: 2.5, review: { image: true } }, model: { executionProviders: [] } });
  assert.throws(
    () => loadConfig({ file, env: {} }),
    (e: unknown) => {
      assert.ok(isClipnError(e, 'CONFIG_INVALID'));
      assert.ok(e.message.startsWith(`invalid configuration (file ${file} and the environment): `));
      assert.match(e.message, /model\.executionProviders: expected at least one item, got \[\]/);
      assert.match(e.message, /processing\.maxBatch: expected integer >= 1, got 2\.5/);
      assert.match(e.message, /processing\.review\.image: expected one of inline, reference, none, got true/);
      return true;
    },
  );
});

test('unknown keys are errors listing the known ones, in the file and in CLIPN_<SECTION>__ variables', () => {
  const file = configFile({ processing: { maxBatc: 8 }, kafak: {} });
  const lines = problems(() => loadConfig({ file, env: { CLIPN_KAFKA__BROKERZ: 'a:1' } }));
  const known = 'maxBatch, maxWaitMs, maxInFlight, delivery, shutdownTimeoutMs, defaultLabelSet, modelName, review, deadLetter, retry, memory, labelSets';
  assert.ok(lines.includes(`processing.maxBatc: unknown setting, expected one of ${known}`), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('kafka.brokerz (CLIPN_KAFKA__BROKERZ): unknown setting, expected one of brokers,')));
  assert.ok(lines.includes('kafak: unknown setting, expected one of model, images, kafka, processing, codec, telemetry, trainer, plugins, trust'));
});

test('SASL without TLS is refused unless kafka.allowPlaintextSasl says so', () => {
  const sasl = { CLIPN_KAFKA__SASL__MECHANISM: 'plain', CLIPN_KAFKA__SASL__USERNAME: 'svc', CLIPN_KAFKA__SASL__PASSWORD: 'pw' };
  const lines = problems(() => loadConfig({ env: sasl }));
  assert.ok(lines.some((l) => l.startsWith('kafka.ssl: expected true with kafka.sasl (plain): SASL without TLS sends the credentials and records in clear')), lines.join('\n'));
  assert.equal(loadConfig({ env: { ...sasl, CLIPN_KAFKA__SSL: 'true' } }).kafka.sasl?.mechanism, 'plain');
  assert.equal(loadConfig({ env: { ...sasl, CLIPN_KAFKA__ALLOW_PLAINTEXT_SASL: 'true' } }).kafka.allowPlaintextSasl, true);
});

test('settings that contradict each other are refused', () => {
  const lines = problems(() =>
    loadConfig({ env: { CLIPN_KAFKA__TOPICS__INPUT: 'images,clipn.results', CLIPN_PROCESSING__MAX_IN_FLIGHT: '8', CLIPN_MODEL__EXECUTION_PROVIDERS: 'cpu,cpu' } }),
  );
  assert.ok(lines.includes('kafka.topics.input.1 (CLIPN_KAFKA__TOPICS__INPUT): expected a topic other than kafka.topics.results (a loop), got "clipn.results"'), lines.join('\n'));
  assert.ok(lines.includes('processing.maxInFlight (CLIPN_PROCESSING__MAX_IN_FLIGHT): expected at least processing.maxBatch (16), got 8'));
  assert.ok(lines.includes('model.executionProviders (CLIPN_MODEL__EXECUTION_PROVIDERS): expected each provider once, got ["cpu","cpu"]'));
});

test('an incomplete SASL group names the missing parts and never echoes the password', () => {
  const lines = problems(() => loadConfig({ env: { CLIPN_KAFKA__SASL__PASSWORD: 'hunter2', CLIPN_KAFKA__SASL__MECHANISM: 'kerberos' } }));
  assert.ok(lines.includes('kafka.sasl.mechanism (CLIPN_KAFKA__SASL__MECHANISM): expected one of plain, scram-sha-256, scram-sha-512, got "kerberos"'), lines.join('\n'));
  assert.ok(lines.includes('kafka.sasl.username: expected a non-empty string, got nothing'));
  const bad = problems(() => loadConfig({ env: {}, overrides: { kafka: { sasl: { mechanism: 'plain', username: 'u', password: 42 } } } }));
  assert.deepEqual(bad, ['kafka.sasl.password: expected a non-empty string, got [redacted]']);
});

test('unreadable, non-JSON, non-object and YAML files are refused naming the file', () => {
  const cases: [string, RegExp][] = [
    ['/nonexistent/clipn.json', /config file \/nonexistent\/clipn\.json: expected a readable JSON file, got ENOENT/],
    [configFile('{"model": '), /expected JSON, got a syntax error/],
    [configFile('[1,2]'), /expected a JSON object at the top, got an array/],
    [configFile('model:\n  dir: x\n', 'config.yaml'), /expected a JSON file, got \.yaml \(YAML is not supported/],
  ];
  for (const [file, pattern] of cases) {
    assert.throws(() => loadConfig({ file, env: {} }), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && pattern.test(e.message) && e.details.file === file, file);
  }
});

test('the result is deeply frozen; the overrides passed in are left as they were', () => {
  const overrides = { kafka: { brokers: ['o:1'] } };
  const c = loadConfig({ env: {}, overrides });
  assert.throws(() => {
    (c.processing as { maxBatch: number }).maxBatch = 1;
  }, TypeError);
  assert.throws(() => {
    (c.kafka.brokers as string[]).push('x:1');
  }, TypeError);
  assert.throws(() => {
    (c.images.fetch as { timeoutMs: number }).timeoutMs = 1;
  }, TypeError);
  assert.throws(() => {
    (c as unknown as Record<string, unknown>).extra = 1;
  }, TypeError);
  assert.deepEqual(c.kafka.brokers, ['o:1']);
  assert.equal(Object.isFrozen(overrides.kafka.brokers), false);
});
