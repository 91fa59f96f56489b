/**
 * Exactly-once across replicas: one transactional producer per owned input partition, with
 * transactional.id = <group>-<topic>-<partition> (the scheme Kafka Streams used before KIP-447).
 * The member that takes a partition over initialises the same transactional id, which fences the
 * previous owner: its open transaction is aborted and its later commits fail, so its work on that
 * partition is dropped, never committed. Producers of partitions this member lost are closed.
 */
import type { Kafka, Producer } from '../kafka/index.js';
import type { Assignment } from './consumer-state.js';

/** A partition's producer; `fresh` until its first transaction has begun (and fenced older owners). */
export interface PartitionProducer {
  producer: Producer;
  fresh: boolean;
}

export class PartitionProducers {
  private readonly producers = new Map<string, Promise<PartitionProducer>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly groupId: string,
    private readonly transactionTimeoutMs: number,
  ) {}

  /** The transactional id of a partition's producer. */
  transactionalId(topic: string, partition: number): string {
    return `${this.groupId}-${topic}-${partition}`;
  }

  /** The producer of a partition, created and connected on first use. */
  forPartition(topic: string, partition: number): Promise<PartitionProducer> {
    const key = `${topic}\u0000${partition}`;
    let entry = this.producers.get(key);
    if (entry === undefined) {
      const producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: this.transactionalId(topic, partition), transactionTimeout: this.transactionTimeoutMs });
      entry = producer.connect().then(() => ({ producer, fresh: true }));
      // A failed connect is not cached: the next chunk tries again.
      entry.catch(() => this.producers.delete(key));
      this.producers.set(key, entry);
    }
    return entry;
  }

  /** Closes a partition's producer (an open transaction is aborted by the broker on timeout or by the next owner). */
  async release(topic: string, partition: number): Promise<void> {
    const key = `${topic}\u0000${partition}`;
    const entry = this.producers.get(key);
    this.producers.delete(key);
    await entry?.then((p) => p.producer.disconnect()).catch(() => undefined);
  }

  /** Closes the producers of every partition not in `assignment`. */
  async retain(assignment: Assignment): Promise<void> {
    const lost = [...this.producers.keys()].filter((key) => {
      const [topic, partition] = key.split('\u0000') as [string, string];
      return !assignment.get(topic)?.has(Number(partition));
    });
    await Promise.all(lost.map((key) => {
      const [topic, partition] = key.split('\u0000') as [string, string];
      return this.release(topic, Number(partition));
    }));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.producers.keys()].map((key) => {
      const [topic, partition] = key.split('\u0000') as [string, string];
      return this.release(topic, Number(partition));
    }));
  }
}
