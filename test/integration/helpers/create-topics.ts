/** Creating fresh test topics (replication 1 unless given) and waiting for their leaders. */
import type { Kafka } from 'kafkajs';
import { until } from './wait-for-messages.js';

/** A test topic: 3 partitions unless given; `compact` makes it a compacted side channel. */
export interface TestTopicSpec {
  topic: string;
  partitions?: number;
  compact?: boolean;
  configs?: Record<string, string>;
  /** Default 1 (the single local broker); 3 on the cluster of scripts/kafka.sh cluster. */
  replicationFactor?: number;
}

/**
 * Creates the topics (they must not exist yet: tests use {@link uniqueName} names) and waits
 * until every partition has a leader.
 */
export async function createTopics(kafka: Kafka, topics: readonly TestTopicSpec[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Not kafkajs' waitForLeaders: on a multi-broker cluster it fails when the broker it asks
    // has not applied the new topic yet (UNKNOWN_TOPIC_OR_PARTITION).
    const created = await admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions ?? 3,
        replicationFactor: t.replicationFactor ?? 1,
        configEntries: Object.entries({ ...(t.compact ? { 'cleanup.policy': 'compact' } : {}), ...(t.configs ?? {}) }).map(([name, value]) => ({ name, value })),
      })),
    });
    if (!created) throw new Error(`expected to create ${topics.map((t) => t.topic).join(', ')}, but they all existed already`);
    const names = topics.map((t) => t.topic);
    await until(`leaders for every partition of ${names.join(', ')}`, async () => {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: names }).catch(() => ({ topics: [] }));
      return names.every((n) => found.some((f) => f.name === n && f.partitions.length > 0 && f.partitions.every((p) => p.leader >= 0)));
    }, 30_000, 50);
  } finally {
    await admin.disconnect();
  }
}
