/**
 * Delivery: produce the records made for a run of consumed messages, then commit the offset
 * after them. At-least-once acknowledges the records (acks=all) before committing; exactly-once
 * puts the records and the offset in one Kafka transaction. Either way records are sent within
 * the topics' size limits (produce-plan.ts).
 */
import type { Consumer, Producer, Message } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { sendWithinLimits, type OutputRecord, type Replace, type SizeLimit } from './produce-plan.js';
import { Serial } from './serial.js';

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

function groupByTopic(records: OutputRecord[]): Array<{ topic: string; messages: Message[] }> {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    const list = byTopic.get(r.topic) ?? [];
    list.push({ key: r.key, value: r.value, headers: r.headers ?? {} });
    byTopic.set(r.topic, list);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

/** Produces with acks from all in-sync replicas, then commits the consumer offset. */
export function atLeastOnce(producer: Producer, consumer: Consumer, sizes: SizePolicy): Delivery {
  return {
    mode: 'at-least-once',
    async deliver(records, commit) {
      await sendWithinLimits(records, (group) => producer.sendBatch({ topicMessages: groupByTopic(group), acks: -1 }).then(() => undefined), sizes.limit, sizes.replace);
      await consumer.commitOffsets([commit]);
    },
  };
}

/** One transaction per delivery: the records and the consumer offset commit or abort together. */
export function exactlyOnce(producer: Producer, consumerGroupId: string, sizes: SizePolicy): Delivery {
  // A transactional producer holds one open transaction at a time; partitions take turns.
  const serial = new Serial();
  return {
    mode: 'exactly-once',
    deliver(records, commit) {
      return serial.run(async () => {
        const tx = await producer.transaction();
        try {
          // A send refused as too large leaves the transaction usable: the split parts join it.
          await sendWithinLimits(records, (group) => tx.sendBatch({ topicMessages: groupByTopic(group) }).then(() => undefined), sizes.limit, sizes.replace);
          await tx.sendOffsets({
            consumerGroupId,
            topics: [{ topic: commit.topic, partitions: [{ partition: commit.partition, offset: commit.offset }] }],
          });
          await tx.commit();
        } catch (error) {
          await tx.abort().catch(() => undefined);
          throw new ClipnError('KAFKA_ERROR', `transaction for ${commit.topic}[${commit.partition}] aborted: ${(error as Error).message}`, {
            cause: error,
          });
        }
      });
    },
  };
}
