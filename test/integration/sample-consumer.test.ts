/**
 * The trainer's sample consumer on the real broker: an exactly-once sidecar writes the review
 * topic in transactions, so the topic ends in a commit marker no message carries; catching up
 * must still finish, with the aborted records left out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec } from '../../src/codec/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { SampleConsumer } from '../../src/trainer/sample-consumer.js';
import { SampleStore } from '../../src/trainer/sample-store.js';
import { exampleRecords } from '../helpers/records.js';
import { createTopics, produceInTransaction, testKafka, uniqueName } from './helpers/kafka.js';

const kafka = testKafka();
const codec = createCodec({ registryUrl: null });
const logger = createLogger({ level: 'error', serviceName: 'test', destination: { write: () => true } });

test('catchUp finishes on decisions written in transactions (the topic ends in a marker); aborted ones are not stored', { timeout: 90_000 }, async () => {
  const review = uniqueName('t-review');
  const decisions = uniqueName('t-decisions');
  await createTopics(kafka, [{ topic: review, partitions: 1 }, { topic: decisions, partitions: 2 }]);
  const decision = (itemId: string) => codec.encode('ReviewDecision', { ...exampleRecords().ReviewDecision, itemId });
  const committed = await Promise.all(Array.from({ length: 10 }, async (_, i) => ({ key: `c${i}`, value: await decision(`c${i}`) })));
  const aborted = await Promise.all(Array.from({ length: 4 }, async (_, i) => ({ key: `a${i}`, value: await decision(`a${i}`) })));
  const transactionalId = uniqueName('tx-sidecar');
  await produceInTransaction(kafka, decisions, committed, { transactionalId, outcome: 'commit' });
  await produceInTransaction(kafka, decisions, aborted, { transactionalId, outcome: 'abort' });
  const dir = mkdtempSync(join(tmpdir(), 'clipn-samples-'));
  const store = await SampleStore.open({ dir, embedDim: 8, maxSamples: 1000, splitSalt: 'test-salt' });
  const consumer = new SampleConsumer({ kafka, codec, store, groupId: uniqueName('g-trainer'), topics: { review, decisions }, logger });
  try {
    await consumer.start();
    // Before the fix this timed out: the committed offsets stop one short of each partition's end.
    await consumer.catchUp(45_000);
    assert.equal(store.counts().pendingDecisions, committed.length, 'the committed decisions wait for their items; the aborted ones are not there');
  } finally {
    await consumer.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
