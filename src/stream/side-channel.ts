/**
 * A compacted side-channel topic (label sets, model releases) read from the beginning by every
 * instance (its own consumer group, never committed), applied record by record, in order.
 * `caughtUp` resolves once everything that was on the topic at start has been applied.
 */
import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka, KafkaMessage } from '../kafka/index.js';
import { CatchUpTracker, withAdmin } from '../kafka/index.js';

export class SideChannel {
  private consumer: Consumer | null = null;
  private readonly tracker = new CatchUpTracker();
  /** Resolves when the records present at start have been applied. */
  readonly caughtUp: Promise<void> = this.tracker.whenCaughtUp();

  constructor(
    private readonly kafka: Kafka,
    readonly topic: string,
    private readonly groupPrefix: string,
    private readonly apply: (message: KafkaMessage) => Promise<void>,
  ) {}

  async start(): Promise<void> {
    await withAdmin(this.kafka, (admin) => this.tracker.fetchEnds(admin, [this.topic]));
    // A fresh group each start: every instance reads the whole channel, nothing is committed.
    this.consumer = this.kafka.consumer({ groupId: `${this.groupPrefix}-${randomUUID()}`, sessionTimeout: 30_000 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    this.tracker.follow(this.consumer);
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        await this.apply(message);
        this.tracker.passed(this.topic, partition, message.offset);
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
