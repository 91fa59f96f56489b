/** Creating fresh test topics (replication 1) and waiting for their leaders. */
import type { Kafka } from 'kafkajs';

/** A test topic: 3 partitions unless given; `compact` makes it a compacted side channel. */
export interface TestTopicSpec {
  topic: string;
  partitions?: number;
  compact?: boolean;
  configs?: Record<string, string>;
}

/** Creates the topics; they must not exist yet (tests use {@link uniqueName} names). */
export async function createTopics(kafka: Kafka, topics: readonly TestTopicSpec[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions ?? 3,
        replicationFactor: 1,
        configEntries: Object.entries({ ...(t.compact ? { 'cleanup.policy': 'compact' } : {}), ...(t.configs ?? {}) }).map(([name, value]) => ({ name, value })),
      })),
    });
    if (!created) throw new Error(`expected to create ${topics.map((t) => t.topic).join(', ')}, but they all existed already`);
  } finally {
    await admin.disconnect();
  }
}
