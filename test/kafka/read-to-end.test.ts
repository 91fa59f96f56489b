import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { isClipnError } from '../../src/errors.js';
import { latestByKey, readToEnd } from '../../src/kafka/read-to-end.js';

function msg(offset: number, key: string | null, value: string | null): KafkaMessage {
  return { offset: String(offset), key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp: '0', attributes: 0, headers: {} } as KafkaMessage;
}

test('latestByKey keeps the last write per key and drops deleted keys', () => {
  const latest = latestByKey([
    msg(0, 'a', 'a1'),
    msg(1, 'b', 'b1'),
    msg(2, 'a', 'a2'),
    msg(3, 'c', 'c1'),
    msg(4, 'b', null), // tombstone
    msg(5, null, 'keyless'),
    msg(6, 'c', ''), // empty value: also a delete
    msg(7, 'd', 'd1'),
    msg(8, 'b', 'b2'), // written again after its delete
  ]);
  assert.deepEqual([...latest].map(([k, m]) => [k, m.value!.toString(), m.offset]), [
    ['a', 'a2', '2'],
    ['d', 'd1', '7'],
    ['b', 'b2', '8'],
  ]);
});

test('latestByKey of nothing is empty; keys are compared as UTF-8 text', () => {
  assert.equal(latestByKey([]).size, 0);
  const latest = latestByKey([msg(0, 'é', '1'), { ...msg(1, null, '2'), key: Buffer.from('é', 'utf8') }]);
  assert.deepEqual([...latest.keys()], ['é']);
  assert.equal(latest.get('é')!.value!.toString(), '2');
});

test('readToEnd refuses a timeout that is not a positive whole number, before connecting', async () => {
  // Port 1 is closed: reaching the network would fail differently (KAFKA_ERROR).
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  for (const timeoutMs of [0, -1, 1.5, Number.NaN]) {
    await assert.rejects(readToEnd(kafka, 't', { timeoutMs }), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /timeoutMs: expected a whole number >= 1/.test(e.message));
  }
});

test('readToEnd against an unreachable broker fails with a retriable KAFKA_ERROR naming the topic', async () => {
  const kafka = new Kafka({ brokers: ['127.0.0.1:1'], logLevel: logLevel.NOTHING, connectionTimeout: 200, retry: { retries: 0 } });
  await assert.rejects(readToEnd(kafka, 'side-channel', { timeoutMs: 5000 }), (e: unknown) => {
    assert.ok(isClipnError(e, 'KAFKA_ERROR'), String(e));
    assert.match(e.message, /^reading side-channel to its end: /);
    assert.equal(e.retriable, true, 'a broker that is down can come back');
    return true;
  });
});
