import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { Admin, Kafka } from 'kafkajs';
import { isClipnError } from '../../src/errors.js';
import { ensureServiceTopics, ensureTopics, type TopicSpec } from '../../src/kafka/topics.js';

const { KafkaJSAggregateError, KafkaJSNonRetriableError, KafkaJSProtocolError } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');

/** What kafkajs' retrier throws when createTopics bails: the error wrapped, with it as cause. */
function bailed(e: Error): Error {
  const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, options: { cause: unknown }) => Error;
  return new NonRetriable(e, { cause: e });
}

function protocolError(type: string, topic: string, retriable = false): Error {
  const e = new KafkaJSProtocolError({ message: type, type, code: 1, retriable } as unknown as Error);
  return Object.assign(e, { topic });
}

type Metadata = { topics: Array<{ name: string; partitions: Array<{ partitionId: number; leader: number }> }> };

/** Metadata in which every topic has one partition led by broker 1. */
const led = (topics: string[]): Metadata => ({ topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })) });

/**
 * An Admin double: the topic list, what createTopics does with the request, and what metadata
 * answers (default: every topic led).
 */
function fakeAdmin(
  existing: string[],
  create: (request: { topics: Array<Record<string, unknown>> }) => Promise<boolean>,
  metadata: (topics: string[], call: number) => Promise<Metadata> = async (topics) => led(topics),
): { admin: Admin; requests: Array<Array<Record<string, unknown>>>; waitForLeaders: unknown[]; metadataFor: string[][] } {
  const requests: Array<Array<Record<string, unknown>>> = [];
  const waitForLeaders: unknown[] = [];
  const metadataFor: string[][] = [];
  const admin = {
    listTopics: async () => [...existing],
    createTopics: async (request: { topics: Array<Record<string, unknown>>; waitForLeaders?: boolean }) => {
      requests.push(request.topics);
      waitForLeaders.push(request.waitForLeaders);
      return create(request);
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => {
      metadataFor.push(topics);
      return metadata(topics, metadataFor.length);
    },
  } as unknown as Admin;
  return { admin, requests, waitForLeaders, metadataFor };
}

test('creates only the missing topics, with broker defaults unless given', async () => {
  const { admin, requests } = fakeAdmin(['old'], async () => true);
  const created = await ensureTopics(admin, [
    { topic: 'old' },
    { topic: 'plain' },
    { topic: 'side', partitions: 1, replicationFactor: 3, configs: { 'cleanup.policy': 'compact' } },
  ]);
  assert.deepEqual(created, ['plain', 'side']);
  assert.deepEqual(requests, [[
    { topic: 'plain', numPartitions: -1, replicationFactor: -1, configEntries: [] },
    { topic: 'side', numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ]]);
});

test('waits for the leaders itself: a broker that does not know the new topic yet, or has no leader for it, is asked again', async () => {
  // What kafkajs throws when the broker asked has not applied the new topic yet (a 3-node KRaft cluster).
  const unknown = bailed(protocolError('UNKNOWN_TOPIC_OR_PARTITION', 'a', true));
  const { admin, waitForLeaders, metadataFor } = fakeAdmin([], async () => true, async (topics, call) => {
    if (call === 1) throw unknown;
    if (call === 2) return { topics: [{ name: 'a', partitions: [{ partitionId: 0, leader: -1 }] }, ...led(topics.slice(1)).topics] };
    return led(topics);
  });
  assert.deepEqual(await ensureTopics(admin, [{ topic: 'a' }, { topic: 'b' }]), ['a', 'b']);
  assert.deepEqual(waitForLeaders, [false]);
  assert.equal(metadataFor.length, 3);
});

test('leaders that do not appear in time, or a metadata refusal, become KAFKA_ERROR', async () => {
  const never = fakeAdmin([], async () => true, async () => ({ topics: [] }));
  await assert.rejects(ensureTopics(never.admin, [{ topic: 'a' }], { leaderTimeoutMs: 300 }), (e: unknown) => {
    assert.ok(isClipnError(e, 'KAFKA_ERROR'));
    assert.match(e.message, /^waiting for the leaders of a: expected a leader for every partition within 300 ms, got no leader yet for a/);
    assert.equal(e.retriable, true);
    return true;
  });
  const refused = fakeAdmin([], async () => true, async () => {
    throw bailed(protocolError('TOPIC_AUTHORIZATION_FAILED', 'a'));
  });
  await assert.rejects(ensureTopics(refused.admin, [{ topic: 'a' }]), (e: unknown) => isClipnError(e, 'KAFKA_ERROR') && /^waiting for the leaders of a: /.test(e.message) && refused.metadataFor.length === 1);
});

test('nothing to create: no create request', async () => {
  const { admin, requests } = fakeAdmin(['a', 'b'], async () => assert.fail('must not create'));
  assert.deepEqual(await ensureTopics(admin, [{ topic: 'a' }, { topic: 'b' }]), []);
  assert.deepEqual(await ensureTopics(admin, []), []);
  assert.equal(requests.length, 0);
});

test('a topic created concurrently by someone else is fine, and the rest are still reported as created', async () => {
  // What kafkajs throws when one of two topics appeared between listTopics and createTopics.
  const { admin, metadataFor } = fakeAdmin([], async () => {
    const aggregate = new KafkaJSAggregateError('Topic creation errors', [protocolError('TOPIC_ALREADY_EXISTS', 'raced')]);
    throw bailed(aggregate);
  });
  assert.deepEqual(await ensureTopics(admin, [{ topic: 'raced' }, { topic: 'mine' }]), ['mine']);
  assert.deepEqual(metadataFor, [['raced', 'mine']]);
  // All of them raced: kafkajs answers false.
  const all = fakeAdmin([], async () => false);
  assert.deepEqual(await ensureTopics(all.admin, [{ topic: 'x' }]), []);
});

test('other broker refusals become KAFKA_ERROR naming the topics and keeping the cause', async () => {
  const refusal = protocolError('POLICY_VIOLATION', 'bad');
  const aggregate = new KafkaJSAggregateError('Topic creation errors', [protocolError('TOPIC_ALREADY_EXISTS', 'ok'), refusal]);
  const { admin } = fakeAdmin([], async () => {
    throw bailed(aggregate);
  });
  await assert.rejects(ensureTopics(admin, [{ topic: 'ok' }, { topic: 'bad' }]), (e: unknown) => {
    assert.ok(isClipnError(e, 'KAFKA_ERROR'));
    assert.match(e.message, /^creating topics ok, bad: KafkaJSNonRetriableError/);
    assert.equal(e.retriable, false);
    return true;
  });
  const down = { listTopics: async () => { throw Object.assign(new Error('Connection error'), { name: 'KafkaJSConnectionError', retriable: true }); } } as unknown as Admin;
  await assert.rejects(ensureTopics(down, [{ topic: 'a' }]), (e: unknown) => isClipnError(e, 'KAFKA_ERROR') && e.retriable && /^listing topics to create a:/.test(e.message));
});

test('bad specs are refused before any request', async () => {
  const { admin, requests } = fakeAdmin([], async () => true);
  const bad: Array<[TopicSpec[], RegExp]> = [
    [[{ topic: '' }], /topics\[0\]\.topic: expected 1 to 249/],
    [[{ topic: 'has space' }], /got "has space"/],
    [[{ topic: '..' }], /topics\[0\]\.topic/],
    [[{ topic: 'x'.repeat(250) }], /topics\[0\]\.topic/],
    [[{ topic: 'a' }, { topic: 'a' }], /topics\[1\]\.topic: expected each topic once, got a twice/],
    [[{ topic: 'a', partitions: 0 }], /topics\[0\]\.partitions of a: expected a whole number >= 1, got 0/],
    [[{ topic: 'a', replicationFactor: 1.5 }], /topics\[0\]\.replicationFactor of a/],
  ];
  for (const [specs, message] of bad) {
    await assert.rejects(ensureTopics(admin, specs), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && message.test(e.message));
  }
  assert.equal(requests.length, 0);
});

test('ensureServiceTopics: stream topics as kafka.newTopics says, side channels with one compacted partition, on an admin of its own', async () => {
  const { admin, requests } = fakeAdmin(['results'], async () => true);
  const sessions: string[] = [];
  const kafka = { admin: () => ({ ...admin, connect: async () => void sessions.push('connect'), disconnect: async () => void sessions.push('disconnect') }) } as unknown as Kafka;
  const created = await ensureServiceTopics(kafka, { partitions: 6, replicationFactor: 3 }, { stream: ['in', 'results'], sideChannels: ['labels'] });
  assert.deepEqual(created, ['in', 'labels']);
  assert.deepEqual(requests, [[
    { topic: 'in', numPartitions: 6, replicationFactor: 3, configEntries: [] },
    { topic: 'labels', numPartitions: 1, replicationFactor: 3, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] },
  ]]);
  assert.deepEqual(sessions, ['connect', 'disconnect']);
  // No replication factor in the policy: the broker's default.
  await ensureServiceTopics(kafka, { partitions: 2, replicationFactor: null }, { sideChannels: ['releases'] });
  assert.deepEqual(requests[1], [{ topic: 'releases', numPartitions: 1, replicationFactor: -1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }]);
});
