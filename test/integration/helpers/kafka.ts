/** Integration-test helpers against the real broker: unique names, producing, waiting with timeouts. */
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';

export const BROKERS = (process.env.CLIPN_TEST_BROKERS ?? '127.0.0.1:9092').split(',');

/** A name no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export function testKafka(): Kafka {
  return new Kafka({ clientId: uniqueName('test'), brokers: BROKERS, logLevel: logLevel.NOTHING });
}

export async function createTopics(kafka: Kafka, topics: Array<{ topic: string; partitions?: number; compact?: boolean }>): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: topics.map((t) => ({
        topic: t.topic,
        numPartitions: t.partitions ?? 3,
        replicationFactor: 1,
        configEntries: t.compact ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
  } finally {
    await admin.disconnect();
  }
}

export async function produce(kafka: Kafka, topic: string, messages: Array<{ key?: string | null; value: Buffer | null; headers?: Record<string, string> }>): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 200) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 200).map((m) => ({ key: m.key ?? null, value: m.value, headers: m.headers ?? {} })) });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface Collector {
  readonly messages: KafkaMessage[];
  /** Resolves when `predicate` holds over what has arrived; rejects after `timeoutMs` naming what was awaited. */
  waitFor(what: string, predicate: (messages: KafkaMessage[]) => boolean, timeoutMs: number): Promise<KafkaMessage[]>;
  stop(): Promise<void>;
}

/** Consumes a topic from the beginning in the background, collecting every message. */
export async function collect(kafka: Kafka, topic: string, options: { readCommitted?: boolean } = {}): Promise<Collector> {
  const consumer = kafka.consumer({ groupId: uniqueName('collector'), readUncommitted: !options.readCommitted });
  const messages: KafkaMessage[] = [];
  const waiters = new Set<() => void>();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push(message);
      for (const w of waiters) w();
    },
  });
  return {
    messages,
    waitFor(what, predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (predicate(messages)) {
            cleanup();
            resolve(messages);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${topic}; ${messages.length} messages arrived`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    stop: () => consumer.disconnect(),
  };
}

/** Resolves when `condition()` is true, polling; rejects after `timeoutMs` with `what`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
