/** Where the integration tests find the broker, and names no other test run uses. */
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { createKafka } from '../../../src/kafka/index.js';

/** Brokers from CLIPN_TEST_BROKERS (comma-separated), default the local broker of scripts/kafka.sh. */
export const BROKERS: readonly string[] = (process.env.CLIPN_TEST_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter((b) => b.length > 0);

/** `prefix` plus a random suffix: a topic, group or transactional id no other test (or earlier run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** A client for the test broker, made by the product's own factory; quiet unless CLIPN_TEST_KAFKA_LOG is set. */
export function testKafka(): Kafka {
  const log = process.env.CLIPN_TEST_KAFKA_LOG;
  return createKafka(
    { brokers: BROKERS, clientId: uniqueName('test'), connectionTimeoutMs: 3000, requestTimeoutMs: 30_000, retry: { retries: 5, initialRetryTimeMs: 100, maxRetryTimeMs: 2000 } },
    log ? (level, message, extra) => process.stderr.write(`[${level}] ${message} ${JSON.stringify(extra)}\n`) : undefined,
  );
}
