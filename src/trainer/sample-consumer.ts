/**
 * Feeds the sample store from Kafka: review items and review decisions in the trainer's
 * consumer group. A batch is stored and fsynced before its offset is committed, so a crash
 * re-delivers at most what the store already has (which it ignores), never loses a record.
 */
import type { RecordCodec, ReviewDecision, ReviewItem } from '../codec/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { CatchUpTracker, describeBehind, withAdmin, type Consumer, type Kafka, type KafkaMessage } from '../kafka/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { SampleStore } from './sample-store.js';
import type { StoredDecision, StoredItem } from './types.js';

/** What the consumer needs. */
export interface SampleConsumerDeps {
  readonly kafka: Kafka;
  readonly codec: RecordCodec;
  readonly store: SampleStore;
  readonly groupId: string;
  readonly topics: { readonly review: string; readonly decisions: string };
  readonly logger: Logger;
  /** Called after a batch changed the store. */
  readonly onStored?: (changed: number) => void;
}

/** A ReviewItem as the store keeps it. */
export function storedItem(r: ReviewItem): StoredItem {
  return {
    id: r.id,
    embedding: Float32Array.from(r.imageEmbedding),
    caption: r.caption,
    predicted: r.label,
    sampled: r.reasons.includes('sampled'),
    labelSet: { id: r.labelSet.id, version: r.labelSet.version, labels: [...r.labelSet.labels] },
    promptVersion: r.model.promptVersion,
    createdAt: r.createdAt,
  };
}

/** A ReviewDecision as the store keeps it. */
export function storedDecision(d: ReviewDecision): StoredDecision {
  return { itemId: d.itemId, decision: d.decision, label: d.label, concept: d.concept, caption: d.caption, reviewer: d.reviewer, decidedAt: d.decidedAt };
}

/** The trainer's consumer of the review and review-decision topics. */
export class SampleConsumer {
  private consumer: Consumer | null = null;
  // Positions past every batch processed (markers and aborted records included) and committed.
  private readonly tracker = new CatchUpTracker();
  private joined = false;

  constructor(private readonly deps: SampleConsumerDeps) {}

  /** True once the consumer has joined its group. */
  get ready(): boolean {
    return this.joined;
  }

  /** Joins the group and starts consuming in the background. */
  async start(): Promise<void> {
    const { kafka, topics, groupId } = this.deps;
    const consumer = kafka.consumer({ groupId, sessionTimeout: 30_000, heartbeatInterval: 3000 });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => (this.joined = true));
    // A batch ends (END_BATCH_PROCESS) only after eachBatch stored and committed its records.
    this.tracker.follow(consumer);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.deps.logger.error({ err: payload.error }, 'sample consumer crashed');
      this.tracker.fail(toClipnError(payload.error, 'KAFKA_ERROR'));
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topics.review, topics.decisions], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat }) => {
        if (batch.messages.length === 0) return;
        const items: StoredItem[] = [];
        const decisions: StoredDecision[] = [];
        for (const m of batch.messages) await this.decodeInto(batch.topic, batch.partition, m, items, decisions);
        const changed = await this.deps.store.add(items, decisions);
        const next = BigInt(batch.messages.at(-1)!.offset) + 1n;
        // Only now that the samples are on disk does the group move past them.
        await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next.toString() }]);
        this.tracker.advance(batch.topic, batch.partition, next);
        await heartbeat();
        if (changed > 0) this.deps.onStored?.(changed);
      },
    });
  }

  /**
   * Resolves once everything on both topics when called is stored and committed.
   * @throws ClipnError KAFKA_ERROR after `timeoutMs`, or when the consumer crashed.
   */
  async catchUp(timeoutMs: number): Promise<void> {
    const { kafka, topics, groupId } = this.deps;
    await withAdmin(kafka, (admin) => this.tracker.fetchEnds(admin, [topics.review, topics.decisions], groupId));
    await this.tracker.whenCaughtUp({
      timeoutMs,
      timeoutError: (behind) => new ClipnError('KAFKA_ERROR', `trainer: not caught up on the review topics within ${timeoutMs} ms (${describeBehind(behind)})`, { retriable: true }),
    });
  }

  /** Stops consuming (the batch in progress is stored and committed first) and leaves the group. */
  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    this.joined = false;
    if (consumer === null) return;
    await consumer.stop();
    await consumer.disconnect();
  }

  private async decodeInto(topic: string, partition: number, m: KafkaMessage, items: StoredItem[], decisions: StoredDecision[]): Promise<void> {
    if (m.value === null || m.value.length === 0) return;
    try {
      if (topic === this.deps.topics.review) items.push(storedItem((await this.deps.codec.decode(m.value, 'ReviewItem')).value));
      else decisions.push(storedDecision((await this.deps.codec.decode(m.value, 'ReviewDecision')).value));
    } catch (error) {
      // A record that is not what the topic should hold can never become a sample: skip it.
      const e = toClipnError(error);
      this.deps.logger.warn({ code: e.code, topic, partition, offset: m.offset }, `skipping a record the trainer cannot read: ${e.message}`);
    }
  }
}
