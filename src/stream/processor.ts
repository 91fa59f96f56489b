/**
 * `clipn serve`'s engine: consumes the input topics in a group, turns each message into a
 * tagged result (and a review item when the label set's rule says OOD) or a dead letter, and
 * commits offsets only once those records are acknowledged (or inside one transaction).
 */
import { ROOT_CONTEXT, type Tracer } from '@opentelemetry/api';
import type { Consumer, Kafka, Producer } from 'kafkajs';
import type { RecordCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError } from '../errors.js';
import { maxMessageBytes } from '../kafka/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { extractContext, startStageSpan } from '../telemetry/tracing.js';
import type { PartitionLag } from '../telemetry/types.js';
import { createBatchHandler } from './batch-handler.js';
import { atLeastOnce, exactlyOnce, type Delivery, type OutputRecord } from './delivery.js';
import { Inference } from './inference.js';
import { memoryBudgets } from './memory.js';
import { MessageWorker } from './message-worker.js';
import { recordsLimit } from './produce-plan.js';
import type { ServingState } from './serving-state.js';
import { Slots } from './slots.js';

export interface ProcessorDeps {
  config: Config;
  kafka: Kafka;
  codec: RecordCodec;
  state: ServingState;
  logger: Logger;
  tracer: Tracer;
  metrics: Metrics;
}

export class StreamProcessor {
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private readonly inference: Inference;
  private readonly slots: Slots;
  private readonly shutdown = new AbortController();
  private readonly lag = new Map<string, PartitionLag>();
  private joined = false;

  constructor(private readonly deps: ProcessorDeps) {
    const p = deps.config.processing;
    this.slots = new Slots(p.maxInFlight);
    this.inference = new Inference({ maxBatch: p.maxBatch, maxWaitMs: p.maxWaitMs }, (n) => deps.metrics.batchSize(n));
    deps.metrics.setLagProvider(() => this.lag.values());
  }

  /** True once the consumer has joined its group. */
  get ready(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    const { config, kafka, metrics, tracer } = this.deps;
    const exactly = config.processing.delivery === 'exactly-once';
    const limits = await this.outputLimits();
    const limit = (topic: string): number => limits.get(topic) ?? recordsLimit(0);
    const worker = new MessageWorker({ ...this.deps, inference: this.inference, memory: memoryBudgets(config.processing.memory.maxInFlightBytes), limit, signal: this.shutdown.signal });
    this.producer = kafka.producer(
      exactly
        ? { idempotent: true, maxInFlightRequests: 1, transactionalId: `${config.kafka.groupId}-${config.kafka.clientId}-tx`, transactionTimeout: 60_000 }
        : { idempotent: true, maxInFlightRequests: 5 },
    );
    await this.producer.connect();
    this.consumer = kafka.consumer({
      groupId: config.kafka.groupId,
      sessionTimeout: 30_000,
      heartbeatInterval: 3000,
      // In exactly-once mode only committed input counts (a producer upstream may be transactional too).
      readUncommitted: false,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => (this.joined = true));
    this.consumer.on(this.consumer.events.CRASH, (e) => this.deps.logger.error({ err: e.payload.error }, 'consumer crashed'));
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [...config.kafka.topics.input], fromBeginning: true });
    const sizes = { limit, replace: (r: OutputRecord, bytes: number, max: number) => worker.replaceOversize(r, bytes, max) };
    const delivery: Delivery = exactly ? exactlyOnce(this.producer, config.kafka.groupId, sizes) : atLeastOnce(this.producer, this.consumer, sizes);
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.kafka.partitionsConsumedConcurrently,
      eachBatch: createBatchHandler((msg, s) => worker.handle(msg, s), delivery, this.slots, { maxChunk: Math.max(config.processing.maxBatch, 1) * 2, heartbeatIntervalMs: 3000 }, {
        onLag: (s, lag) => this.lag.set(`${s.topic}\u0000${s.partition}`, { ...s, lag }),
        onPaused: (_s, paused) => metrics.pausedPartitionsChanged(paused ? 1 : -1),
        onTaken: (n) => metrics.inFlightChanged(n),
        onSettled: (messages) => metrics.inFlightChanged(-messages),
        onDelivery: (_s, ms, records) => {
          metrics.stageDuration('produce', ms);
          const end = performance.timeOrigin + performance.now();
          // One produce span per message, child of its message span (whose context the records carry).
          const seen = new Set<string>();
          for (const r of records) {
            const tp = r.headers?.traceparent;
            if (tp === undefined || seen.has(String(tp))) continue;
            seen.add(String(tp));
            startStageSpan(tracer, 'produce', extractContext(r.headers, ROOT_CONTEXT), { startTime: end - ms, destination: r.topic }).end(end);
          }
        },
      }),
    });
  }

  /** The record size limit of each output topic, from its max.message.bytes. */
  private async outputLimits(): Promise<Map<string, number>> {
    const t = this.deps.config.kafka.topics;
    const admin = this.deps.kafka.admin();
    await admin.connect();
    try {
      const bytes = await maxMessageBytes(admin, [t.results, t.review, t.deadLetter]);
      return new Map([...bytes].map(([topic, max]) => [topic, recordsLimit(max)]));
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Stops fetching, finishes and delivers in-flight work, commits, disconnects; bounded by the
   * deadline. Past half of it, work still waiting (a retry's backoff, a memory budget, a slow
   * fetch) is interrupted: those messages are not committed and are processed again after a restart.
   */
  async stop(): Promise<void> {
    const deadline = this.deps.config.processing.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const interrupt = setTimeout(() => this.shutdown.abort(new ClipnError('INTERRUPTED', 'shutdown')), deadline / 2);
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClipnError('SHUTDOWN_TIMEOUT', `shutdown took longer than ${deadline} ms`)), deadline);
    });
    try {
      await Promise.race([
        (async () => {
          // consumer.stop() waits for the running eachBatch calls, which deliver and commit.
          await this.consumer?.stop();
          this.inference.close();
          await this.consumer?.disconnect();
          await this.producer?.disconnect();
        })(),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      clearTimeout(interrupt);
      this.shutdown.abort(new ClipnError('INTERRUPTED', 'stopped'));
      this.joined = false;
    }
  }
}
