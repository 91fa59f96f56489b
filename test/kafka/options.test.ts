import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isClipnError } from '../../src/errors.js';
import { loadConfig } from '../../src/config/index.js';
import { resolveKafkaOptions, type KafkaOptionsInput } from '../../src/kafka/options.js';

/** Asserts CONFIG_INVALID naming `field`, and returns the message. */
function rejects(input: unknown, field: string): string {
  try {
    resolveKafkaOptions(input as KafkaOptionsInput);
  } catch (error) {
    assert.ok(isClipnError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`);
    assert.equal(error.details.field, `kafka.${field}`);
    assert.match(error.message, new RegExp(`^kafka\\.${field.replace(/[[\].]/g, '\\$&')}: expected `));
    return error.message;
  }
  assert.fail(`expected ${field} to be rejected`);
}

test('nothing given: every field takes its default, the same as config.kafka\'s', () => {
  const o = resolveKafkaOptions({});
  assert.deepEqual(o, {
    brokers: ['127.0.0.1:9092'],
    clientId: 'clipn-sidecar',
    ssl: false,
    sasl: null,
    connectionTimeoutMs: 10_000,
    requestTimeoutMs: 30_000,
    retry: { retries: 8, initialRetryTimeMs: 200, maxRetryTimeMs: 30_000 },
    logLevel: 'warn',
  });
  assert.ok(Object.isFrozen(o) && Object.isFrozen(o.brokers) && Object.isFrozen(o.retry));
  const k = loadConfig({ env: {} }).kafka;
  assert.deepEqual({ brokers: k.brokers, clientId: k.clientId, ssl: k.ssl, sasl: k.sasl, connectionTimeoutMs: k.connectionTimeoutMs, requestTimeoutMs: k.requestTimeoutMs, retry: k.retry, logLevel: k.logLevel }, o);
});

test('an IPv6 broker in brackets is accepted by both paths, a bare IPv6 address by neither', () => {
  assert.deepEqual(resolveKafkaOptions({ brokers: ['[::1]:9092'] }).brokers, ['[::1]:9092']);
  assert.deepEqual(loadConfig({ env: { CLIPN_KAFKA__BROKERS: '[::1]:9092,10.0.0.1:9093' } }).kafka.brokers, ['[::1]:9092', '10.0.0.1:9093']);
  rejects({ brokers: ['::1:9092'] }, 'brokers[0]');
  assert.throws(() => loadConfig({ env: { CLIPN_KAFKA__BROKERS: '::1:9092' } }), /kafka\.brokers\.0 \(CLIPN_KAFKA__BROKERS\): expected host:port/);
});

test('given values win over defaults; a partial retry keeps the other retry defaults', () => {
  const o = resolveKafkaOptions({
    brokers: ['kafka-0.kafka:9093', '[::1]:9094', '10.0.0.7:19092'],
    clientId: 'svc',
    ssl: true,
    sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' },
    connectionTimeoutMs: 1,
    requestTimeoutMs: 2,
    retry: { retries: 0 },
    logLevel: 'debug',
  });
  assert.deepEqual(o.brokers, ['kafka-0.kafka:9093', '[::1]:9094', '10.0.0.7:19092']);
  assert.equal(o.clientId, 'svc');
  assert.equal(o.ssl, true);
  assert.deepEqual(o.sasl, { mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  assert.deepEqual(o.retry, { retries: 0, initialRetryTimeMs: 200, maxRetryTimeMs: 30_000 });
  assert.equal(o.logLevel, 'debug');
});

test('the input is copied: changing it later does not change the options', () => {
  const brokers = ['a:1'];
  const o = resolveKafkaOptions({ brokers });
  brokers.push('b:2');
  assert.deepEqual(o.brokers, ['a:1']);
});

test('config.kafka objects with extra fields are accepted as they are', () => {
  const fromConfig = { brokers: ['127.0.0.1:9092'], clientId: 'c', groupId: 'g', ssl: false, sasl: null, connectionTimeoutMs: 5, requestTimeoutMs: 6, topics: { input: ['x'] } };
  const o = resolveKafkaOptions(fromConfig);
  assert.equal(o.connectionTimeoutMs, 5);
  assert.ok(!('groupId' in o));
});

test('bad brokers are rejected naming the entry', () => {
  rejects({ brokers: [] }, 'brokers');
  // A string is a comma list, as from the environment.
  assert.deepEqual(resolveKafkaOptions({ brokers: '127.0.0.1:9092' as unknown as string[] }).brokers, ['127.0.0.1:9092']);
  assert.match(rejects({ brokers: ['ok:1', 'no-port'] }, 'brokers[1]'), /got "no-port"/);
  rejects({ brokers: ['host:0'] }, 'brokers[0]');
  rejects({ brokers: ['host:65536'] }, 'brokers[0]');
  rejects({ brokers: ['http://host:9092'] }, 'brokers[0]');
  rejects({ brokers: [9092] }, 'brokers[0]');
});

test('bad scalar fields are rejected', () => {
  const b = ['h:1'];
  rejects({ brokers: b, clientId: '' }, 'clientId');
  rejects({ brokers: b, ssl: 'maybe' }, 'ssl');
  rejects({ brokers: b, connectionTimeoutMs: 0 }, 'connectionTimeoutMs');
  rejects({ brokers: b, requestTimeoutMs: 1.5 }, 'requestTimeoutMs');
  rejects({ brokers: b, retry: { retries: -1 } }, 'retry.retries');
  rejects({ brokers: b, retry: { initialRetryTimeMs: 0 } }, 'retry.initialRetryTimeMs');
  assert.match(rejects({ brokers: b, retry: { initialRetryTimeMs: 500, maxRetryTimeMs: 100 } }, 'retry.maxRetryTimeMs'), />= initialRetryTimeMs \(500\)/);
  rejects({ brokers: b, logLevel: 'verbose' }, 'logLevel');
});

test('bad SASL settings are rejected without echoing the password', () => {
  const b = ['h:1'];
  rejects({ brokers: b, sasl: { mechanism: 'gssapi', username: 'u', password: 'p' } }, 'sasl.mechanism');
  rejects({ brokers: b, sasl: { mechanism: 'plain', username: '', password: 'p' } }, 'sasl.username');
  const m = rejects({ brokers: b, sasl: { mechanism: 'plain', username: 'u', password: '' } }, 'sasl.password');
  assert.match(m, /expected a non-empty string, got \[redacted\]/);
  const n = rejects({ brokers: b, sasl: { mechanism: 'plain', username: 'u', password: 12345678 } }, 'sasl.password');
  assert.ok(!n.includes('12345678'), n);
});
