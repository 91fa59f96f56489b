/** Topic helpers: create what is missing, and read a compacted topic up to its current end. */
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { kafkaError } from './client-factory.js';

export interface TopicSpec {
  topic: string;
  partitions?: number;
  /** e.g. { 'cleanup.policy': 'compact' } for the side channels. */
  configs?: Record<string, string>;
}

/** Creates the topics that do not exist yet (replication factor of the broker's default). */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  try {
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length === 0) return [];
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions ?? -1,
        replicationFactor: -1,
        configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    return missing.map((s) => s.topic);
  } catch (error) {
    // Another instance creating the same topic at the same time is fine.
    if ((error as { type?: string }).type === 'TOPIC_ALREADY_EXISTS') return [];
    throw kafkaError(error, `creating topics ${specs.map((s) => s.topic).join(', ')}`);
  }
}

/** The end offset (high watermark) of every partition of a topic. */
export async function endOffsets(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
}

/**
 * Reads a topic from the beginning to the end offsets it has now, then stops. For side
 * channels: "read everything there is at boot, then be ready".
 */
export async function readToEnd(kafka: Kafka, topic: string, options: { timeoutMs: number; groupId: string }): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await endOffsets(admin, topic).finally(() => admin.disconnect());
  const pending = new Set([...ends].filter(([, end]) => end > 0n).map(([p]) => p));
  const out: KafkaMessage[] = [];
  if (pending.size === 0) return out;
  const consumer = kafka.consumer({ groupId: options.groupId });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new ClipnError('KAFKA_ERROR', `reading ${topic} to its end took longer than ${options.timeoutMs} ms (partitions left: ${[...pending].join(', ')})`)), options.timeoutMs);
      consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            out.push(message);
            if (BigInt(message.offset) + 1n >= ends.get(partition)!) pending.delete(partition);
            if (pending.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}
