/**
 * Delivery: produce the records made for a run of consumed messages, then commit the offset
 * after them. At-least-once acknowledges the records (acks=all) before committing; exactly-once
 * puts the records and the offset in one Kafka transaction. Either way records are sent within
 * the topics' size limits (produce-plan.ts).
 */
import type { Context } from '@opentelemetry/api';
import type { Consumer, Producer, Message } from '../kafka/index.js';
import { ClipnError } from '../errors.js';
import { withSendParents } from '../telemetry/kafka-instrumentation.js';
import { sendWithinLimits, type OutputRecord, type Replace, type SizeLimit } from './produce-plan.js';
import type { PartitionProducers } from './partition-producers.js';

export type { OutputRecord } from './produce-plan.js';

/** The size limits of the output topics and what replaces a record that cannot fit. */
export interface SizePolicy {
  limit: SizeLimit;
  replace: Replace;
}

/** Where consumption resumes after the delivered messages. */
export interface CommitPoint {
  topic: string;
  partition: number;
  /** The next offset to read (last delivered + 1), as kafkajs wants it: a string. */
  offset: string;
}

/** Delivers the records of some consumed messages and commits their offsets. */
export interface Delivery {
  readonly mode: 'at-least-once' | 'exactly-once';
  deliver(records: OutputRecord[], commit: CommitPoint): Promise<void>;
}

type TopicMessages = Array<{ topic: string; messages: Message[] }>;

/**
 * Sends `records` in one call of `sendBatch`, each record's send span a child of its `trace`.
 * Headers are copied: the instrumentation writes each send span's traceparent into them, and
 * the records of one message share one headers object.
 */
function sendGroup(records: OutputRecord[], sendBatch: (topicMessages: TopicMessages) => Promise<unknown>): Promise<void> {
  const byTopic = new Map<string, Array<{ message: Message; trace: Context | undefined }>>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ message: { key: r.key, value: r.value, headers: { ...r.headers } }, trace: r.trace });
    byTopic.set(r.topic, list);
  }
  const groups = [...byTopic];
  // In the order the instrumentation starts the send spans: by topic, then message.
  const parents = groups.flatMap(([, list]) => list.map((m) => m.trace));
  const topicMessages = groups.map(([topic, list]) => ({ topic, messages: list.map((m) => m.message) }));
  return withSendParents(parents, () => sendBatch(topicMessages)).then(() => undefined);
}

/** Produces with acks from all in-sync replicas, then commits the consumer offset. */
export function atLeastOnce(producer: Producer, consumer: () => Consumer, sizes: SizePolicy): Delivery {
  return {
    mode: 'at-least-once',
    async deliver(records, commit) {
      await sendWithinLimits(records, (group) => sendGroup(group, (topicMessages) => producer.sendBatch({ topicMessages, acks: -1 })), sizes.limit, sizes.replace);
      await consumer().commitOffsets([commit]);
    },
  };
}

/** True for the broker's answer to a producer whose transactional id a newer producer took over. */
export function isFenced(error: unknown, depth = 0): boolean {
  const e = error as { type?: unknown; code?: unknown; cause?: unknown; originalError?: unknown } | null;
  if (e === null || typeof e !== 'object' || depth > 5) return false;
  // 47 INVALID_PRODUCER_EPOCH, 90 PRODUCER_FENCED (newer brokers; kafkajs 2.2.4 has no name for it).
  if (e.type === 'INVALID_PRODUCER_EPOCH' || e.type === 'PRODUCER_FENCED' || e.code === 47 || e.code === 90) return true;
  return isFenced(e.cause, depth + 1) || isFenced(e.originalError, depth + 1);
}

/**
 * One transaction per delivery on the producer of the input partition: the records and the
 * consumer offset commit or abort together. The first transaction of a partition this member
 * newly owns fences its previous owner first, then reads the group's committed offset again:
 * what the previous owner committed before it was fenced is not delivered twice.
 */
export function exactlyOnce(producers: PartitionProducers, consumerGroupId: string, committedOffset: (topic: string, partition: number) => Promise<bigint | null>, sizes: SizePolicy): Delivery {
  return {
    mode: 'exactly-once',
    async deliver(records, commit) {
      const owned = await producers.forPartition(commit.topic, commit.partition);
      let tx;
      try {
        tx = await owned.producer.transaction(); // the first one initialises the id: older owners are fenced
      } catch (error) {
        await producers.release(commit.topic, commit.partition);
        throw transactionError(error, commit);
      }
      try {
        let fresh = records;
        if (owned.fresh) {
          owned.fresh = false;
          const committed = await committedOffset(commit.topic, commit.partition);
          if (committed !== null && BigInt(commit.offset) <= committed) {
            await tx.abort();
            return; // the previous owner delivered all of it
          }
          if (committed !== null) fresh = records.filter((r) => r.origin === undefined || BigInt(r.origin.offset) >= committed);
        }
        // A send refused as too large leaves the transaction usable: the split parts join it.
        await sendWithinLimits(fresh, (group) => sendGroup(group, (topicMessages) => tx.sendBatch({ topicMessages })), sizes.limit, sizes.replace);
        await tx.sendOffsets({ consumerGroupId, topics: [{ topic: commit.topic, partitions: [{ partition: commit.partition, offset: commit.offset }] }] });
        await tx.commit();
      } catch (error) {
        await tx.abort().catch(() => undefined);
        if (isFenced(error)) await producers.release(commit.topic, commit.partition);
        throw transactionError(error, commit);
      }
    },
  };
}

function transactionError(error: unknown, commit: CommitPoint): ClipnError {
  if (isFenced(error)) {
    // Another member owns the partition now: this work is dropped, the new owner does it.
    return new ClipnError('INTERRUPTED', `${commit.topic}[${commit.partition}] moved to another member: its transactional producer was fenced`, { cause: error });
  }
  return new ClipnError('KAFKA_ERROR', `transaction for ${commit.topic}[${commit.partition}] aborted: ${(error as Error).message}`, { cause: error });
}
