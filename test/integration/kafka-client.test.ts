/**
 * src/kafka against the real broker (scripts/kafka.sh): topic creation, a round trip through
 * the factory, reading a compacted side channel to its end, and transactions as a
 * read_committed consumer sees them.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createKafka, ensureTopics, latestByKey, readToEnd } from '../../src/kafka/index.js';
import { BROKERS, createTopics, produce, produceInTransaction, uniqueName, waitForMessages } from './helpers/kafka.js';

// kafkajs is CommonJS; its enums are not visible to ESM named imports.
const { ConfigResourceTypes } = createRequire(import.meta.url)('kafkajs') as typeof import('kafkajs');
const WAIT_MS = 30_000;
const kafka = createKafka({ brokers: BROKERS, clientId: uniqueName('kafka-client-test'), connectionTimeoutMs: 3000 });
const admin = kafka.admin();
const adminReady = admin.connect();
after(() => admin.disconnect());

const text = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

test('ensureTopics creates what is missing once, with partitions and configs, also when called concurrently', { timeout: 60_000 }, async () => {
  await adminReady;
  const plain = uniqueName('ensure-plain');
  const side = uniqueName('ensure-side');
  const specs = [{ topic: plain, partitions: 2 }, { topic: side, partitions: 1, configs: { 'cleanup.policy': 'compact' } }];
  assert.deepEqual(await ensureTopics(admin, specs), [plain, side]);
  assert.deepEqual(await ensureTopics(admin, specs), [], 'second call creates nothing');

  const meta = await admin.fetchTopicMetadata({ topics: [plain, side] });
  const partitions = new Map(meta.topics.map((t) => [t.name, t.partitions.length]));
  assert.equal(partitions.get(plain), 2);
  assert.equal(partitions.get(side), 1);
  const configs = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: side, configNames: ['cleanup.policy'] }] });
  assert.equal(configs.resources[0]!.configEntries.find((c) => c.configName === 'cleanup.policy')?.configValue, 'compact');

  // Three instances starting at once, each with its own admin: every topic is created exactly once, nobody fails.
  const raced = [uniqueName('ensure-race'), uniqueName('ensure-race')];
  const admins = [kafka.admin(), kafka.admin(), kafka.admin()];
  await Promise.all(admins.map((a) => a.connect()));
  try {
    const results = await Promise.all(admins.map((a) => ensureTopics(a, raced.map((topic) => ({ topic })))));
    assert.deepEqual(results.flat().sort(), [...raced].sort(), `created by each: ${JSON.stringify(results)}`);
  } finally {
    await Promise.all(admins.map((a) => a.disconnect()));
  }
  const defaults = await admin.fetchTopicMetadata({ topics: raced });
  for (const t of defaults.topics) assert.equal(t.partitions.length, 3, `${t.name}: the broker's num.partitions`);
});

test('produce and consume through the factory: keys, values, headers and order per partition', { timeout: 60_000 }, async () => {
  const topic = uniqueName('roundtrip');
  await createTopics(kafka, [{ topic, partitions: 3 }]);
  const sent = Array.from({ length: 30 }, (_, i) => ({ key: `k${i % 4}`, value: `v${i}`, headers: { seq: String(i) } }));
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: sent });
  } finally {
    await producer.disconnect();
  }
  const got = await waitForMessages(kafka, topic, { count: sent.length, timeoutMs: WAIT_MS });
  assert.equal(got.length, sent.length);
  assert.deepEqual(
    got.map((m) => `${text(m.key)}=${text(m.value)}#${m.headers!.seq!.toString()}`).sort(),
    sent.map((s) => `${s.key}=${s.value}#${s.headers.seq}`).sort(),
  );
  // Same key, same partition, in the order sent.
  for (const key of ['k0', 'k1', 'k2', 'k3']) {
    const ofKey = got.filter((m) => text(m.key) === key);
    assert.equal(new Set(ofKey.map((m) => m.partition)).size, 1, `${key} on one partition`);
    assert.deepEqual(ofKey.map((m) => text(m.value)), sent.filter((s) => s.key === key).map((s) => s.value));
  }
});

test('readToEnd of a compacted side channel: everything written so far, latest per key, then stops', { timeout: 60_000 }, async () => {
  const topic = uniqueName('side-channel');
  await createTopics(kafka, [{ topic, partitions: 2, compact: true }]);
  assert.deepEqual(await readToEnd(kafka, topic, { timeoutMs: WAIT_MS }), [], 'an empty topic is read at once');

  await produce(kafka, topic, [
    { key: 'default', value: 'labels-v1' },
    { key: 'animals', value: 'animals-v1' },
    { key: 'default', value: 'labels-v2' },
    { key: 'retired', value: 'retired-v1' },
    { key: 'animals', value: 'animals-v2' },
    { key: 'retired', value: null },
    { key: 'default', value: 'labels-v3' },
  ]);
  const first = await readToEnd(kafka, topic, { timeoutMs: WAIT_MS });
  // The cleaner may already have dropped superseded records, never the latest ones.
  assert.ok(first.length >= 3 && first.length <= 7, `read ${first.length} records`);
  const latest = latestByKey(first);
  assert.deepEqual(new Map([...latest].map(([k, m]) => [k, text(m.value)])), new Map([['default', 'labels-v3'], ['animals', 'animals-v2']]));

  // Written after the read: the next read sees it, the previous result did not change.
  await produce(kafka, topic, [{ key: 'animals', value: 'animals-v3' }, { key: 'plants', value: 'plants-v1' }]);
  const second = latestByKey(await readToEnd(kafka, topic, { timeoutMs: WAIT_MS }));
  assert.deepEqual(new Map([...second].map(([k, m]) => [k, text(m.value)])), new Map([['default', 'labels-v3'], ['animals', 'animals-v3'], ['plants', 'plants-v1']]));
  assert.equal(text(latest.get('animals')!.value), 'animals-v2');
});

test('readToEnd of a transactionally written topic passes the markers and leaves out aborted records', { timeout: 60_000 }, async () => {
  const topic = uniqueName('tx-side-channel');
  await createTopics(kafka, [{ topic, partitions: 1, compact: true }]);
  const transactionalId = uniqueName('tx-side');
  await produceInTransaction(kafka, topic, [{ key: 'a', value: 'a1' }, { key: 'b', value: 'b1' }], { transactionalId, outcome: 'commit' });
  // The topic now ends with an abort marker: only marker-aware progress finishes the read.
  await produceInTransaction(kafka, topic, [{ key: 'a', value: 'a-aborted' }], { transactionalId, outcome: 'abort' });
  const read = await readToEnd(kafka, topic, { timeoutMs: WAIT_MS });
  assert.deepEqual(read.map((m) => `${text(m.key)}=${text(m.value)}`), ['a=a1', 'b=b1']);
  const uncommitted = await readToEnd(kafka, topic, { timeoutMs: WAIT_MS, readCommitted: false });
  assert.deepEqual(uncommitted.map((m) => `${text(m.key)}=${text(m.value)}`), ['a=a1', 'b=b1', 'a=a-aborted'], 'the aborted record was really written');
});

test('readToEnd of a topic that does not exist fails at once with a retriable KAFKA_ERROR', { timeout: 60_000 }, async () => {
  const missing = uniqueName('no-such-topic');
  const t0 = Date.now();
  await assert.rejects(readToEnd(kafka, missing, { timeoutMs: 20_000 }), (e: unknown) => {
    assert.equal((e as { code?: string }).code, 'KAFKA_ERROR');
    assert.equal((e as Error).message, `reading ${missing} to its end: expected the topic to exist, got no topic of that name`);
    assert.equal((e as { retriable?: boolean }).retriable, true, 'it may be created any moment');
    return true;
  });
  assert.ok(Date.now() - t0 < 20_000, `failed after ${Date.now() - t0} ms, not at once`);
});

test('readToEnd is not held by a transaction still open: it returns what was committed before it', { timeout: 60_000 }, async () => {
  const topic = uniqueName('tx-open');
  await createTopics(kafka, [{ topic, partitions: 1 }]);
  await produce(kafka, topic, [{ key: 'a', value: 'a1' }]);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: uniqueName('tx-open') });
  await producer.connect();
  const tx = await producer.transaction();
  try {
    await tx.send({ topic, acks: -1, messages: [{ key: 'a', value: 'pending' }] });
    for (const readCommitted of [true, false]) {
      const read = await readToEnd(kafka, topic, { timeoutMs: WAIT_MS, readCommitted });
      assert.deepEqual(read.map((m) => text(m.value)), ['a1'], `readCommitted ${readCommitted}`);
    }
  } finally {
    await tx.abort();
    await producer.disconnect();
  }
});

test('transactions: read_committed sees committed records only; an aborted transaction stays invisible', { timeout: 90_000 }, async () => {
  const topic = uniqueName('tx');
  await createTopics(kafka, [{ topic, partitions: 1 }]);
  const transactionalId = uniqueName('tx-producer');
  await produceInTransaction(kafka, topic, [{ key: 'x', value: 'committed-1' }, { key: 'y', value: 'committed-2' }], { transactionalId, outcome: 'commit' });
  await produceInTransaction(kafka, topic, [{ key: 'x', value: 'aborted-1' }, { key: 'z', value: 'aborted-2' }], { transactionalId, outcome: 'abort' });
  // A later committed record: once it is seen, anything before it on the one partition was too.
  await produceInTransaction(kafka, topic, [{ key: 'end', value: 'committed-3' }], { transactionalId, outcome: 'commit' });

  const seesEnd = (ms: Array<{ value: Buffer | null }>): boolean => ms.some((m) => text(m.value) === 'committed-3');
  const committed = await waitForMessages(kafka, topic, { predicate: seesEnd, what: 'the record after the aborted transaction', isolationLevel: 'read_committed', timeoutMs: WAIT_MS });
  assert.deepEqual(committed.map((m) => text(m.value)), ['committed-1', 'committed-2', 'committed-3']);

  const everything = await waitForMessages(kafka, topic, { predicate: seesEnd, what: 'the record after the aborted transaction', isolationLevel: 'read_uncommitted', timeoutMs: WAIT_MS });
  assert.deepEqual(everything.map((m) => text(m.value)), ['committed-1', 'committed-2', 'aborted-1', 'aborted-2', 'committed-3']);
});

test('waitForMessages names what it waited for and what it saw when the condition never holds', { timeout: 60_000 }, async () => {
  const topic = uniqueName('wait-timeout');
  await createTopics(kafka, [{ topic, partitions: 1 }]);
  await produce(kafka, topic, [{ key: 'only', value: 'one' }]);
  await assert.rejects(
    waitForMessages(kafka, topic, { count: 2, timeoutMs: 4000 }),
    (e: unknown) => /^timed out after 4000 ms waiting for 2 message\(s\) on wait-timeout-[0-9a-f]{8} \(read_uncommitted\); 1 message\(s\) arrived: "only"="one"@0$/.test((e as Error).message),
  );
});
