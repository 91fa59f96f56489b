/**
 * src/stream/side-channel.ts against the real broker: a side channel written in transactions
 * reports caught up even when the topic ends with a transaction marker, having applied the
 * committed records only, in order.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { createKafka } from '../../src/kafka/index.js';
import { SideChannel } from '../../src/stream/side-channel.js';
import { BROKERS, createTopics, produceInTransaction, uniqueName } from './helpers/kafka.js';

const WAIT_MS = 30_000;
const kafka = createKafka({ brokers: BROKERS, clientId: uniqueName('side-channel-test'), connectionTimeoutMs: 3000 });
const channels: SideChannel[] = [];
after(() => Promise.all(channels.map((c) => c.stop())));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

test('a side channel ending with an abort marker still reports caught up, with the committed records applied', { timeout: 60_000 }, async () => {
  const topic = uniqueName('side-tx');
  await createTopics(kafka, [{ topic, partitions: 1, compact: true }]);
  const transactionalId = uniqueName('side-tx-producer');
  await produceInTransaction(kafka, topic, [{ key: 'a', value: 'a1' }, { key: 'b', value: 'b1' }], { transactionalId, outcome: 'commit' });
  await produceInTransaction(kafka, topic, [{ key: 'a', value: 'a-aborted' }], { transactionalId, outcome: 'abort' });

  const applied: string[] = [];
  const channel = new SideChannel(kafka, topic, uniqueName('side-group'), async (m: KafkaMessage) => {
    applied.push(`${m.key?.toString()}=${m.value?.toString()}`);
  });
  channels.push(channel);
  await channel.start();
  await withTimeout(channel.caughtUp, WAIT_MS, 'caughtUp');
  assert.deepEqual(applied, ['a=a1', 'b=b1']);
});

test('an empty side channel is caught up at once', { timeout: 60_000 }, async () => {
  const topic = uniqueName('side-empty');
  await createTopics(kafka, [{ topic, partitions: 1, compact: true }]);
  const channel = new SideChannel(kafka, topic, uniqueName('side-group'), async () => {});
  channels.push(channel);
  await channel.start();
  await withTimeout(channel.caughtUp, 5_000, 'caughtUp');
});
