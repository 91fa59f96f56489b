/**
 * Delivery: produce the records made for a run of consumed messages, then commit the offset
 * after them. At-least-once acknowledges the records (acks=all) before committing; exactly-once
 * puts the records and the offset in one Kafka transaction.
 */
import type { Consumer, Producer, Message } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { Serial } from './serial.js';

/** One record to produce. */
export interface OutputRecord {
  topic: string;
  key: Buffer | string | null;
  value: Buffer;
  headers?: Record<string, string | Buffer>;
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
export function atLeastOnce(producer: Producer, consumer: Consumer): Delivery {
  return {
    mode: 'at-least-once',
    async deliver(records, commit) {
      if (records.length > 0) await producer.sendBatch({ topicMessages: groupByTopic(records), acks: -1 });
      await consumer.commitOffsets([commit]);
    },
  };
}

/** One transaction per delivery: the records and the consumer offset commit or abort together. */
export function exactlyOnce(producer: Producer, consumerGroupId: string): Delivery {
  // A transactional producer holds one open transaction at a time; partitions take turns.
  const serial = new Serial();
  return {
    mode: 'exactly-once',
    deliver(records, commit) {
      return serial.run(async () => {
        const tx = await producer.transaction();
        try {
          if (records.length > 0) await tx.sendBatch({ topicMessages: groupByTopic(records) });
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
