/** Writing test records: plain (acks=all) and inside a transaction that commits or aborts. */
import type { Kafka, Message } from 'kafkajs';

/** A test record; `partition` pins it, otherwise the key decides. */
export interface TestRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string>;
  partition?: number;
}

function toMessage(r: TestRecord): Message {
  return { key: r.key ?? null, value: r.value, headers: r.headers ?? {}, ...(r.partition === undefined ? {} : { partition: r.partition }) };
}

const size = (r: TestRecord): number => (r.value?.length ?? 0) + (r.key?.length ?? 0) + 64;

/**
 * Sends the records in order (sends of at most 200 records and, past the first record, 512 KiB,
 * so large values stay within a topic's max.message.bytes; acks=all) and returns when all are
 * acknowledged.
 */
export async function produce(kafka: Kafka, topic: string, records: readonly TestRecord[]): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < records.length; ) {
      let end = i + 1;
      let bytes = size(records[i]!);
      while (end < records.length && end - i < 200 && bytes + size(records[end]!) <= 512 * 1024) bytes += size(records[end++]!);
      await producer.send({ topic, acks: -1, messages: records.slice(i, end).map(toMessage) });
      i = end;
    }
  } finally {
    await producer.disconnect();
  }
}

/**
 * Sends the records in one transaction of an idempotent producer with `transactionalId`, then
 * commits it or (`outcome: 'abort'`) aborts it.
 */
export async function produceInTransaction(kafka: Kafka, topic: string, records: readonly TestRecord[], options: { transactionalId: string; outcome: 'commit' | 'abort' }): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: options.transactionalId });
  await producer.connect();
  try {
    const tx = await producer.transaction();
    try {
      await tx.send({ topic, acks: -1, messages: records.map(toMessage) });
    } catch (error) {
      await tx.abort();
      throw error;
    }
    if (options.outcome === 'commit') await tx.commit();
    else await tx.abort();
  } finally {
    await producer.disconnect();
  }
}
