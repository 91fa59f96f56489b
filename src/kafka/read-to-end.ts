/**
 * Reading a topic from its beginning up to the end it has now, and returning its records: how
 * the trainer and the CLI read the side channels and the dead letters (catch-up.ts decides the end).
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { CatchUpTracker } from './catch-up.js';
import { kafkaError } from './errors.js';

/** Options of {@link readToEnd}. */
export interface ReadToEndOptions {
  /** Give up (ClipnError KAFKA_ERROR, retriable) when not caught up by then. */
  timeoutMs: number;
  /** Consumer group; default: a fresh one. Nothing is committed to it either way. */
  groupId?: string;
  /** Default true: records of aborted or still open transactions are not returned. */
  readCommitted?: boolean;
}

/** A message read by {@link readToEnd}, with its partition. */
export type PartitionMessage = KafkaMessage & { partition: number };

/**
 * Reads `topic` from the beginning up to the end offsets it has when called, and stops; records
 * written after that are not returned. Messages come in offset order within a partition.
 * The end is the last stable offset: a transaction still open does not hold the read, and its
 * records are not returned. Transaction markers and aborted records count as read, so a
 * transactionally written topic completes too. A topic that does not exist fails at once.
 */
export async function readToEnd(kafka: Kafka, topic: string, options: ReadToEndOptions): Promise<PartitionMessage[]> {
  if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1) {
    throw new ClipnError('CONFIG_INVALID', `readToEnd timeoutMs: expected a whole number >= 1, got ${options.timeoutMs}`);
  }
  const started = Date.now();
  const timeout = (stage: string, details: Record<string, unknown> = {}): ClipnError =>
    new ClipnError('KAFKA_ERROR', `reading ${topic} to its end: ${stage} within ${options.timeoutMs} ms`, { retriable: true, details: { topic, timeoutMs: options.timeoutMs, ...details } });
  const tracker = new CatchUpTracker();
  const admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const fetching = (async () => {
    await admin.connect();
    // kafkajs retries offsets of a missing topic for a long time: ask once whether it exists.
    if (!(await admin.listTopics()).includes(topic)) {
      throw new ClipnError('KAFKA_ERROR', `reading ${topic} to its end: expected the topic to exist, got no topic of that name`, { retriable: true, details: { topic } });
    }
    await tracker.fetchEnds(admin, [topic]);
  })();
  try {
    await Promise.race([
      fetching,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(timeout('did not get its end offsets'));
        }, options.timeoutMs);
      }),
    ]);
  } catch (error) {
    throw kafkaError(error, `reading ${topic} to its end: fetching its end offsets`);
  } finally {
    clearTimeout(timer);
    // After a timeout the request may still be retrying; disconnecting before it settles would
    // let it reconnect and keep sockets open, so disconnect once it has.
    if (timedOut) void fetching.then(() => {}, () => {}).finally(() => admin.disconnect());
    else await admin.disconnect();
  }
  if (tracker.caughtUp) return [];
  const ends = new Map(tracker.behind().map((p) => [p.partition, p.end]));
  const byPartition = new Map<number, PartitionMessage[]>();

  const consumer = kafka.consumer({ groupId: options.groupId ?? `clipn-read-to-end-${randomUUID()}`, readUncommitted: options.readCommitted === false });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    tracker.follow(consumer);
    consumer.on(consumer.events.CRASH, ({ payload }) => tracker.fail(kafkaError(payload.error, `reading ${topic} to its end`)));
    const caughtUp = tracker.whenCaughtUp({
      timeoutMs: Math.max(1, options.timeoutMs - (Date.now() - started)),
      timeoutError: (behind) => {
        const left = behind.map((p) => `${p.partition} (end ${p.end})`).join(', ');
        return timeout(`not caught up (partitions left: ${left})`, { partitionsLeft: behind.map((p) => p.partition) });
      },
    });
    consumer
      .run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => {
          const end = ends.get(partition);
          if (end === undefined || BigInt(message.offset) >= end) return;
          const list = byPartition.get(partition) ?? [];
          list.push({ ...message, partition });
          byPartition.set(partition, list);
          tracker.passed(topic, partition, message.offset);
        },
      })
      .catch((error: unknown) => tracker.fail(kafkaError(error, `reading ${topic} to its end`)));
    await caughtUp;
  } catch (error) {
    throw kafkaError(error, `reading ${topic} to its end`);
  } finally {
    await consumer.disconnect();
  }
  return [...byPartition.keys()].sort((a, b) => a - b).flatMap((p) => byPartition.get(p)!);
}

/**
 * The latest message per key, as a compacted topic keeps it: a later record replaces an earlier
 * one with the same key, and a tombstone (null or empty value) deletes the key. Records without
 * a key are ignored. Keys are read as UTF-8.
 */
export function latestByKey(messages: readonly KafkaMessage[]): Map<string, KafkaMessage> {
  const latest = new Map<string, KafkaMessage>();
  for (const m of messages) {
    if (m.key === null || m.key === undefined) continue;
    const key = m.key.toString('utf8');
    latest.delete(key); // re-insert so iteration follows the latest write
    if (m.value !== null && m.value.length > 0) latest.set(key, m);
  }
  return latest;
}
