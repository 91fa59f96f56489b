import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { ClipnError } from '../../src/errors.js';
import { isRetriable, kafkaError } from '../../src/kafka/errors.js';

// kafkajs is CommonJS and its error classes are not visible to ESM named imports.
const { KafkaJSConnectionError, KafkaJSError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');

test('a retriable kafkajs error stays retriable, with its cause and name kept', () => {
  const cause = new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  const e = kafkaError(cause, 'connecting the producer');
  assert.equal(e.code, 'KAFKA_ERROR');
  assert.equal(e.retriable, true);
  assert.equal(e.cause, cause);
  assert.equal(e.message, 'connecting the producer: KafkaJSConnectionError: Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  assert.deepEqual(e.details, { kafkaError: 'KafkaJSConnectionError' });
});

test('a non-retriable kafkajs error is not retriable', () => {
  const e = kafkaError(new KafkaJSNonRetriableError('Invalid topics array'), 'creating topics');
  assert.equal(e.retriable, false);
  assert.equal(e.details.kafkaError, 'KafkaJSNonRetriableError');
});

test('protocol errors carry their type and code into details, and their own retriable flag', () => {
  const exists = new KafkaJSProtocolError({ message: 'Topic with this name already exists', type: 'TOPIC_ALREADY_EXISTS', code: 36, retriable: false } as unknown as Error);
  const e = kafkaError(exists, 'creating topic t');
  assert.equal(e.retriable, false);
  assert.deepEqual(e.details, { kafkaError: 'KafkaJSProtocolError', type: 'TOPIC_ALREADY_EXISTS', code: 36 });
  const leader = new KafkaJSProtocolError({ message: 'There is no leader for this topic-partition', type: 'LEADER_NOT_AVAILABLE', code: 5, retriable: true } as unknown as Error);
  assert.equal(kafkaError(leader, 'sending').retriable, true);
});

test('retries exhausted on a transient failure stays retriable; on a permanent one it does not', () => {
  const transient = new KafkaJSConnectionError('Connection timeout');
  const exhausted = new KafkaJSNumberOfRetriesExceeded(transient, { retryCount: 5, retryTime: 1000, cause: transient } as never);
  assert.equal((exhausted as unknown as { retriable: boolean }).retriable, false, 'kafkajs itself says not retriable');
  assert.equal(isRetriable(exhausted), true);
  assert.equal(kafkaError(exhausted, 'x').retriable, true);
  const permanent = new KafkaJSNonRetriableError('bad');
  assert.equal(isRetriable(new KafkaJSNumberOfRetriesExceeded(permanent, { retryCount: 1, retryTime: 1, cause: permanent } as never)), false);
});

test('errors not from kafkajs are not retriable; odd thrown values still give a message', () => {
  assert.equal(kafkaError(new TypeError('x is undefined'), 'reading').retriable, false);
  const s = kafkaError('plain string', 'reading');
  assert.equal(s.message, 'reading: Error: plain string');
  assert.equal(s.retriable, false);
  assert.equal(kafkaError(undefined, 'reading').message, 'reading: Error: undefined');
  assert.equal(isRetriable(null), false);
  assert.equal(new KafkaJSError('generic').retriable, true);
  assert.equal(isRetriable(new KafkaJSError('generic')), true);
});

test('an existing ClipnError passes through unchanged', () => {
  const original = new ClipnError('CONFIG_INVALID', 'kafka.brokers: expected at least one host:port, got ');
  assert.equal(kafkaError(original, 'anything'), original);
});
