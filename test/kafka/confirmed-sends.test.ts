import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, type Message, type Producer, type ProducerBatch, type ProducerConfig, type ProducerRecord, type RecordMetadata } from 'kafkajs';
import { isClipnError } from '../../src/errors.js';
import { checkAcknowledged, ConfirmingKafka } from '../../src/kafka/confirmed-sends.js';

const ack = (topicName: string, partition: number): RecordMetadata => ({ topicName, partition, errorCode: 0 });

test('a send acknowledged for every partition written to passes', () => {
  const [a, b, c] = [{ value: 'a' }, { value: 'b' }, { value: 'c' }] as Message[];
  const assigned = new WeakMap<Message, number>([[a!, 0], [b!, 2], [c!, 0]]);
  checkAcknowledged([{ topic: 'results', messages: [a!, b!] }, { topic: 'review', messages: [c!] }], assigned, [ack('results', 0), ack('results', 2), ack('review', 0)], -1);
});

test('a partition without an acknowledgement fails the send with a retriable KAFKA_ERROR naming it', () => {
  const [a, b, c] = [{ value: 'a' }, { value: 'b' }, { value: 'c' }] as Message[];
  const assigned = new WeakMap<Message, number>([[a!, 0], [b!, 1], [c!, 1]]);
  assert.throws(() => checkAcknowledged([{ topic: 'results', messages: [a!, b!, c!] }], assigned, [ack('results', 0)], -1), (e: unknown) => {
    assert.ok(isClipnError(e, 'KAFKA_ERROR'));
    assert.equal(e.retriable, true);
    assert.match(e.message, /got none for results\[1\] \(2 records\)/);
    assert.deepEqual(e.details.unacknowledged, { 'results[1]': 2 });
    return true;
  });
  // The same partition number on another topic does not count.
  assert.throws(() => checkAcknowledged([{ topic: 'results', messages: [a!] }], assigned, [ack('review', 0)], 1), /results\[0\] \(1 record\)/);
});

test('acks=0 sends get no acknowledgements and are not checked', () => {
  const a = { value: 'a' } as Message;
  checkAcknowledged([{ topic: 't', messages: [a] }], new WeakMap([[a, 0]]), [], 0);
});

/**
 * A kafkajs producer double: sendBatch runs the partitioner it was given over the messages (as
 * kafkajs does) and answers for the partitions in `answers` only (what kafkajs' lost-partition
 * retry returns).
 */
function withFakeProducer<T>(answers: number[], run: (kafka: ConfirmingKafka) => Promise<T>): Promise<T> {
  const original = Kafka.prototype.producer;
  Kafka.prototype.producer = function (config: ProducerConfig = {}) {
    const partition = config.createPartitioner!();
    const sendBatch = async (batch: ProducerBatch): Promise<RecordMetadata[]> => {
      for (const { topic, messages } of batch.topicMessages ?? []) for (const message of messages) partition({ topic, message, partitionMetadata: [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 })) });
      return (batch.topicMessages ?? []).flatMap(({ topic }) => answers.map((p) => ack(topic, p)));
    };
    const fake = { connect: async () => undefined, sendBatch, send: (r: ProducerRecord) => sendBatch({ acks: r.acks, topicMessages: [r] }), transaction: async () => ({ sendBatch, send: (r: ProducerRecord) => sendBatch({ acks: r.acks, topicMessages: [r] }), commit: async () => undefined }) };
    return fake as unknown as Producer;
  };
  return run(new ConfirmingKafka({ brokers: ['127.0.0.1:1'], logLevel: 0 })).finally(() => (Kafka.prototype.producer = original));
}

const byPartition: ProducerConfig['createPartitioner'] = () => ({ message }) => Number(message.partition ?? 0);
const messages = (): Message[] => [0, 1, 2].map((partition) => ({ key: `k${partition}`, value: 'v', partition }));

test('producers of ConfirmingKafka record where the given partitioner put each message and check sends and transactional sends', async () => {
  await withFakeProducer([0, 1, 2], async (kafka) => {
    const producer = kafka.producer({ createPartitioner: byPartition });
    assert.equal((await producer.sendBatch({ acks: -1, topicMessages: [{ topic: 't', messages: messages() }] })).length, 3);
    assert.equal((await (await producer.transaction()).send({ topic: 't', messages: messages() })).length, 3);
  });
  await withFakeProducer([0, 2], async (kafka) => {
    const producer = kafka.producer({ createPartitioner: byPartition });
    await assert.rejects(producer.send({ topic: 't', acks: -1, messages: messages() }), (e: unknown) => isClipnError(e, 'KAFKA_ERROR') && /got none for t\[1\] \(1 record\)/.test(e.message));
    await assert.rejects((await producer.transaction()).sendBatch({ topicMessages: [{ topic: 't', messages: messages() }] }), /got none for t\[1\]/);
    assert.equal(typeof producer.connect, 'function');
  });
});
