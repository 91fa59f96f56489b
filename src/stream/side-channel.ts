/**
 * A compacted side-channel topic (label sets, model releases) read from the beginning by every
 * instance (its own consumer group, never committed), applied record by record, in order.
 * `caughtUp` resolves once everything that was on the topic at start has been applied.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from '../kafka/index.js';
import { endOffsets } from '../kafka/index.js';

export class SideChannel {
  private consumer: Consumer | null = null;
  private readonly pending = new Map<number, bigint>();
  private resolveCaughtUp!: () => void;
  /** Resolves when the records present at start have been applied. */
  readonly caughtUp: Promise<void> = new Promise((r) => (this.resolveCaughtUp = r));

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly groupPrefix: string,
    private readonly apply: (message: KafkaMessage) => Promise<void>,
  ) {}

  async start(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (const [p, end] of await endOffsets(admin, this.topic)) if (end > 0n) this.pending.set(p, end);
    } finally {
      await admin.disconnect();
    }
    if (this.pending.size === 0) this.resolveCaughtUp();
    // A fresh group each start: every instance reads the whole channel, nothing is committed.
    this.consumer = this.kafka.consumer({ groupId: `${this.groupPrefix}-${randomUUID()}`, sessionTimeout: 30_000 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    // A batch of only transaction markers or aborted records never reaches eachMessage; its end
    // event (fired after the batch's messages were applied) still moves the read position.
    this.consumer.on(this.consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (payload.topic === this.topic) this.progress(payload.partition, payload.lastOffset);
    });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        await this.apply(message);
        this.progress(partition, message.offset);
      },
    });
  }

  private progress(partition: number, offset: string | null | undefined): void {
    const end = this.pending.get(partition);
    if (end === undefined || offset === null || offset === undefined || BigInt(offset) + 1n < end) return;
    this.pending.delete(partition);
    if (this.pending.size === 0) this.resolveCaughtUp();
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
