/**
 * `clipn serve`'s engine: consumes the input topics in a group, turns each message into a
 * tagged result (and a review item when the label set's rule says OOD) or a dead letter, and
 * commits offsets only once those records are acknowledged (or inside one transaction per input
 * partition, exactly-once).
 */
import type { Tracer } from '@opentelemetry/api';
import type { Admin, Consumer, EachBatchPayload, Kafka, Producer } from '../kafka/index.js';
import type { RecordCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError } from '../errors.js';
import { kafkaError } from '../kafka/index.js';
import type { PluginHost } from '../plugin/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { inProduceStages } from '../telemetry/tracing.js';
import type { HealthCheck, PartitionLag } from '../telemetry/types.js';
import { createBatchHandler } from './batch-handler.js';
import { ConsumerState, type Assignment } from './consumer-state.js';
import { atLeastOnce, exactlyOnce, type Delivery, type OutputRecord } from './delivery.js';
import { Inference } from './inference.js';
import { memoryBudgets } from './memory.js';
import { MessageWorker } from './message-worker.js';
import { PartitionProducers } from './partition-producers.js';
import type { SizeLimit } from './produce-plan.js';
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
  /** The consumer's readiness and liveness checks, and what to do when it is gone for good. */
  health: { readiness: HealthCheck; liveness: HealthCheck; onFatal(error: ClipnError): void };
  plugins: PluginHost;
  /** The record size limit of each output topic. */
  limit: SizeLimit;
}

export class StreamProcessor {
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private producers: PartitionProducers | null = null;
  private admin: Admin | null = null;
  private readonly inference: Inference;
  private readonly slots: Slots;
  private readonly shutdown = new AbortController();
  private readonly lag = new Map<string, PartitionLag>();
  private readonly consumerState: ConsumerState;
  private accepting = true;
  private chunksInFlight = 0;
  private eachBatch: ((payload: EachBatchPayload) => Promise<void>) | null = null;
  private readonly drainWaiters: Array<() => void> = [];

  constructor(private readonly deps: ProcessorDeps) {
    const p = deps.config.processing;
    this.slots = new Slots(p.maxInFlight);
    this.inference = new Inference({ maxBatch: p.maxBatch, maxWaitMs: p.maxWaitMs }, (n) => deps.metrics.batchSize(n));
    deps.metrics.setLagProvider(() => this.lag.values());
    this.consumerState = new ConsumerState(deps.health.readiness, deps.health.liveness, deps.config.kafka.consumer, deps.logger, {
      onFatal: deps.health.onFatal,
      onAssignment: (a) => this.assigned(a),
      onRestart: () => void this.restartConsumer(),
    });
  }

  /** True while the consumer runs as a group member that hears from the broker. */
  get ready(): boolean {
    return this.consumerState.ready;
  }

  async start(): Promise<void> {
    const { config, kafka, metrics, tracer } = this.deps;
    const c = config.kafka.consumer;
    const exactly = config.processing.delivery === 'exactly-once';
    this.admin = kafka.admin();
    await this.admin.connect();
    const limit = this.deps.limit;
    const worker = new MessageWorker({ ...this.deps, inference: this.inference, memory: memoryBudgets(config.processing.memory.maxInFlightBytes), signal: this.shutdown.signal });
    const sizes = { limit, replace: (r: OutputRecord, bytes: number, max: number) => worker.replaceOversize(r, bytes, max) };
    let delivery: Delivery;
    if (exactly) {
      this.producers = new PartitionProducers(kafka, config.kafka.groupId, 60_000);
      delivery = exactlyOnce(this.producers, config.kafka.groupId, (topic, partition) => this.committed(topic, partition), sizes);
    } else {
      this.producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
      await this.producer.connect();
      // The consumer of the moment: a consumer the processor restarted is a new object.
      delivery = atLeastOnce(this.producer, () => this.consumer!, sizes);
    }
    // A produce stage per message, parent of its records' send spans, for as long as they take.
    const traced: Delivery = { mode: delivery.mode, deliver: (records, commit) => inProduceStages(tracer, records, (staged) => delivery.deliver(staged, commit)) };
    const chunkDone = (): void => {
      if (--this.chunksInFlight === 0) for (const wake of this.drainWaiters.splice(0)) wake();
    };
    this.eachBatch = createBatchHandler(
      (msg, s) => worker.handle(msg, s),
      traced,
      this.slots,
      { maxChunk: Math.max(config.processing.maxBatch, 1) * 2, heartbeatIntervalMs: c.heartbeatIntervalMs, accepting: () => this.accepting },
      {
        onLag: (s, lag) => this.lag.set(`${s.topic}\u0000${s.partition}`, { ...s, lag }),
        onPaused: (_s, paused) => metrics.pausedPartitionsChanged(paused ? 1 : -1),
        onTaken: (n) => {
          this.chunksInFlight++;
          metrics.inFlightChanged(n);
        },
        onSettled: (messages) => {
          metrics.inFlightChanged(-messages);
          chunkDone();
        },
        onDelivery: (_s, ms) => metrics.stageDuration('produce', ms),
      },
    );
    await this.runConsumer();
  }

  /** A consumer of the input topics in the group, running the batch handler. */
  private async runConsumer(): Promise<void> {
    const { config, kafka } = this.deps;
    const c = config.kafka.consumer;
    const consumer = kafka.consumer({
      groupId: config.kafka.groupId,
      sessionTimeout: c.sessionTimeoutMs,
      heartbeatInterval: c.heartbeatIntervalMs,
      maxWaitTimeInMs: c.fetchMaxWaitMs,
      // In exactly-once mode only committed input counts (a producer upstream may be transactional too).
      readUncommitted: false,
      retry: { restartOnFailure: this.consumerState.restartOnFailure },
    });
    this.consumer = consumer;
    this.consumerState.attach(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: [...config.kafka.topics.input], fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: config.kafka.partitionsConsumedConcurrently, eachBatch: this.eachBatch! });
  }

  /**
   * kafkajs does not restart a consumer whose crash it calls non-retriable, some of which are
   * transient on a cluster (a broker gone from its metadata cache during a fail-over): within
   * the restart bound, the processor starts a new consumer itself.
   */
  private async restartConsumer(): Promise<void> {
    if (!this.accepting) return;
    await this.consumer?.disconnect().catch(() => undefined);
    try {
      await this.runConsumer();
      this.deps.logger.info('input consumer restarted');
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'the input consumer could not be restarted');
      this.consumerState.restartFailed(kafkaError(error, 'restarting the input consumer'));
    }
  }

  /** The group's committed offset of a partition (null: none yet), read fresh from the broker. */
  private async committed(topic: string, partition: number): Promise<bigint | null> {
    try {
      const [t] = await this.admin!.fetchOffsets({ groupId: this.deps.config.kafka.groupId, topics: [topic] });
      const offset = t?.partitions.find((p) => p.partition === partition)?.offset;
      return offset === undefined || Number(offset) < 0 ? null : BigInt(offset);
    } catch (error) {
      throw kafkaError(error, `reading the committed offset of ${topic}[${partition}]`);
    }
  }

  /** A new assignment: forget the lag of partitions gone elsewhere, close their producers. */
  private assigned(assignment: Assignment): void {
    for (const [key, l] of this.lag) if (!assignment.get(l.topic)?.has(l.partition)) this.lag.delete(key);
    void this.producers?.retain(assignment);
  }

  private drained(): Promise<void> {
    if (this.chunksInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /**
   * Stops fetching, finishes, delivers and commits the chunks in flight, then stops the
   * consumer and disconnects; bounded by processing.shutdownTimeoutMs. The consumer is stopped
   * only after the last commit (kafkajs ignores commits once it is stopping). Past half of the
   * deadline, work still waiting (a retry's backoff, a memory budget, a slow fetch) is
   * interrupted: those messages are not committed and are processed again after a restart.
   */
  async stop(): Promise<void> {
    const deadline = this.deps.config.processing.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClipnError('SHUTDOWN_TIMEOUT', `shutdown took longer than ${deadline} ms`)), deadline);
    });
    this.accepting = false;
    this.consumerState.stopping();
    try {
      await Promise.race([
        (async () => {
          this.consumer?.pause(this.deps.config.kafka.topics.input.map((topic) => ({ topic })));
          let interrupt: NodeJS.Timeout | undefined;
          await Promise.race([this.drained(), new Promise<void>((resolve) => (interrupt = setTimeout(resolve, deadline / 2)))]);
          clearTimeout(interrupt);
          if (this.chunksInFlight > 0) {
            this.shutdown.abort(new ClipnError('INTERRUPTED', 'shutdown'));
            await this.drained();
          }
          await this.consumer?.stop();
          this.inference.close();
          await this.consumer?.disconnect();
          await this.producer?.disconnect();
          await this.producers?.closeAll();
          await this.admin?.disconnect();
        })(),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      this.shutdown.abort(new ClipnError('INTERRUPTED', 'stopped'));
    }
  }
}
