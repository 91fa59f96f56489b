/**
 * Reading a topic from its beginning up to the end it has now: how the side channels (label
 * sets, model releases) load their state at boot before they report ready.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { kafkaError } from './errors.js';

/** The end offset (high watermark) of every partition of a topic. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  } catch (error) {
    throw kafkaError(error, `fetching the end offsets of ${topic}`);
  }
}

/** Options of {@link readToEnd}. */
export interface ReadToEndOptions {
  /** Give up (ClipnError KAFKA_ERROR, retriable) when not caught up by then. */
  timeoutMs: number;
  /** Consumer group; default: a fresh one. Nothing is committed to it either way. */
  groupId?: string;
  /** Default true: records of aborted or still open transactions are not returned. */
  readCommitted?: boolean;
}

/**
 * Reads `topic` from the beginning up to the end offsets it has when called, and stops; records
 * written after that are not returned. Messages come in offset order within a partition.
 * Transaction markers and aborted records count as read, so a transactionally written topic
 * completes too; a transaction still open at the end offsets holds the read until it ends or
 * the timeout passes.
 */
export async function readToEnd(kafka: Kafka, topic: string, options: ReadToEndOptions): Promise<KafkaMessage[]> {
  if (!Number.isInteger(options.timeoutMs) || options.timeoutMs < 1) {
    throw new ClipnError('CONFIG_INVALID', `readToEnd timeoutMs: expected a whole number >= 1, got ${options.timeoutMs}`);
  }
  const admin = kafka.admin();
  let ends: Map<number, bigint>;
  try {
    await admin.connect();
    ends = await endOffsets(admin, topic);
  } catch (error) {
    throw kafkaError(error, `reading ${topic} to its end`);
  } finally {
    await admin.disconnect();
  }
  const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  const byPartition = new Map<number, KafkaMessage[]>();
  if (pending.size === 0) return [];

  const consumer = kafka.consumer({ groupId: options.groupId ?? `clipn-read-to-end-${randomUUID()}`, readUncommitted: options.readCommitted === false });
  const progress = (partition: number, offset: string | null | undefined): boolean => {
    if (offset !== null && offset !== undefined && BigInt(offset) + 1n >= ends.get(partition)!) pending.delete(partition);
    return pending.size === 0;
  };
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const left = [...pending].map((p) => `${p} (end ${ends.get(p)})`).join(', ');
        reject(new ClipnError('KAFKA_ERROR', `reading ${topic} to its end: not caught up within ${options.timeoutMs} ms; partitions left: ${left}`, { retriable: true, details: { topic, timeoutMs: options.timeoutMs, partitionsLeft: [...pending] } }));
      }, options.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      // Fired for every fetched batch, also one that held only transaction markers or aborted
      // records (eachMessage never sees those), with the last offset it covered.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        if (payload.topic === topic && progress(payload.partition, payload.lastOffset)) done();
      });
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        clearTimeout(timer);
        reject(kafkaError(payload.error, `reading ${topic} to its end`));
      });
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined || BigInt(message.offset) >= end) return;
            const list = byPartition.get(partition) ?? [];
            list.push(message);
            byPartition.set(partition, list);
            if (progress(partition, message.offset)) done();
          },
        })
        .catch((error: unknown) => {
          clearTimeout(timer);
          reject(kafkaError(error, `reading ${topic} to its end`));
        });
    });
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
