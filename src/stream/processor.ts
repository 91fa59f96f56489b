/**
 * `clipn serve`'s engine: consumes the input topics in a group, turns each message into a
 * tagged result (and a review item when the label set's rule says OOD) or a dead letter, and
 * commits offsets only once those records are acknowledged (or inside one transaction).
 */
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { ClipnClassifier, type ImageScore, type PreparedLabelSet } from '../clipn/index.js';
import type { RecordCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { resolveUri } from '../images/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { extractContext, injectSpan } from '../telemetry/tracing.js';
import { createBatchHandler, type MessageSource } from './batch-handler.js';
import { atLeastOnce, exactlyOnce, type Delivery, type OutputRecord } from './delivery.js';
import { parseMessage, type ImageJob } from './input.js';
import { MicroBatcher } from './micro-batcher.js';
import { deadLetter, reviewItem, taggedImage } from './records.js';
import { route, withTrainingSample } from './routing.js';
import type { ServingState } from './serving-state.js';
import { Slots } from './slots.js';

interface InferItem {
  tensor: Float32Array;
  classifier: ClipnClassifier;
  prepared: PreparedLabelSet;
}

interface InferResult {
  score: ImageScore;
  embedding: Float32Array;
  inferMs: number;
  scoreMs: number;
  inferStart: number;
  inferEnd: number;
}

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
  private readonly batcher: MicroBatcher<InferItem, InferResult>;
  private readonly slots: Slots;
  private joined = false;

  constructor(private readonly deps: ProcessorDeps) {
    const p = deps.config.processing;
    this.slots = new Slots(p.maxInFlight);
    this.batcher = new MicroBatcher({ maxBatch: p.maxBatch, maxWaitMs: p.maxWaitMs }, (items) => this.infer(items), (n) => deps.metrics.batch(n));
  }

  /** True once the consumer has joined its group. */
  get ready(): boolean {
    return this.joined;
  }

  async start(): Promise<void> {
    const { config, kafka } = this.deps;
    const exactly = config.processing.delivery === 'exactly-once';
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
    const delivery: Delivery = exactly ? exactlyOnce(this.producer, config.kafka.groupId) : atLeastOnce(this.producer, this.consumer);
    const m = this.deps.metrics;
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.kafka.partitionsConsumedConcurrently,
      eachBatch: createBatchHandler((msg, s) => this.handle(msg, s), delivery, this.slots, { maxChunk: Math.max(config.processing.maxBatch, 1) * 2, heartbeatIntervalMs: 3000 }, {
        onLag: (s, lag) => m.consumerLag(s.topic, s.partition, lag),
        onPaused: (_s, paused) => m.pausedDelta(paused ? 1 : -1),
        onTaken: (n) => m.inFlightDelta(n),
        onSettled: (messages) => m.inFlightDelta(-messages),
        onDelivery: (s, ms) => {
          m.stage('produce', ms);
          const span = this.deps.tracer.startSpan('produce', { kind: SpanKind.PRODUCER, startTime: performance.timeOrigin + performance.now() - ms, attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.source.partition': s.partition } });
          span.end();
        },
      }),
    });
  }

  /** Stops fetching, finishes and delivers in-flight work, commits, disconnects; bounded by the deadline. */
  async stop(): Promise<void> {
    const deadline = this.deps.config.processing.shutdownTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ClipnError('SHUTDOWN_TIMEOUT', `shutdown took longer than ${deadline} ms`)), deadline);
    });
    try {
      await Promise.race([
        (async () => {
          // consumer.stop() waits for the running eachBatch calls, which deliver and commit.
          await this.consumer?.stop();
          this.batcher.close();
          await this.consumer?.disconnect();
          await this.producer?.disconnect();
        })(),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
      this.joined = false;
    }
  }

  /** One message to its records. Never rejects: failures become a dead letter. */
  private handle(message: KafkaMessage, source: MessageSource): Promise<OutputRecord[]> {
    const parent = extractContext(message.headers);
    const span = this.deps.tracer.startSpan(
      `process ${source.topic}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': source.topic,
          'messaging.destination.partition.id': String(source.partition),
          'messaging.kafka.offset': Number(message.offset),
          'messaging.consumer.group.name': this.deps.config.kafka.groupId,
          ...(message.key ? { 'messaging.kafka.message.key': message.key.toString('utf8').slice(0, 200) } : {}),
        },
      },
      parent,
    );
    return context.with(trace.setSpan(parent, span), () => this.handleInSpan(message, source, span)).finally(() => span.end());
  }

  private stageSpan(name: string, startMs: number, endMs: number): void {
    const origin = performance.timeOrigin;
    this.deps.tracer.startSpan(name, { startTime: origin + startMs }).end(origin + endMs);
    this.deps.metrics.stage(name as 'resolve', endMs - startMs);
  }

  private async handleInSpan(message: KafkaMessage, source: MessageSource, span: Span): Promise<OutputRecord[]> {
    const { config, codec } = this.deps;
    const topics = config.kafka.topics;
    const started = performance.now();
    let job: ImageJob | null = null;
    try {
      job = await parseMessage(codec, source.topic, source.partition, message);
      const snapshot = this.deps.state.current;
      const labelSetId = job.labelSetId ?? config.processing.defaultLabelSet;
      const prepared = snapshot.labelSets.get(labelSetId);
      if (!prepared) throw new ClipnError('LABEL_SET_UNKNOWN', `label set ${labelSetId} is not loaded (known: ${[...snapshot.labelSets.keys()].join(', ') || 'none'})`);
      const t0 = performance.now();
      const bytes = job.image.kind === 'inline' ? job.image.bytes : await resolveUri(job.image.uri, config.images);
      const t1 = performance.now();
      this.stageSpan('resolve', t0, t1);
      const { tensor } = await snapshot.classifier.decode(bytes);
      const t2 = performance.now();
      this.stageSpan('decode', t1, t2);
      const result = await this.batcher.submit({ tensor, classifier: snapshot.classifier, prepared });
      this.stageSpan('infer', result.inferStart, result.inferEnd);
      this.stageSpan('score', result.inferEnd, result.inferEnd + result.scoreMs);
      const outlier = route(prepared.labelSet.routing.rule, result.score, prepared.labelSet.thresholds);
      // Part of the captioned ID traffic goes to review too, as training pairs for the trainer.
      const decision = withTrainingSample(outlier, job, result.score, config.trainer.captionSampleShare);
      const timings = { resolveMs: t1 - t0, decodeMs: t2 - t1, inferMs: result.inferMs, scoreMs: result.scoreMs, totalMs: performance.now() - started };
      const key = job.key ?? job.id;
      const headers = injectSpan(span, passHeaders(message));
      this.deps.metrics.stage('total', timings.totalMs);
      span.setAttributes({ 'clipn.id': job.id, 'clipn.label': result.score.label, 'clipn.ood.ctw': result.score.ood.ctw, 'clipn.ood.atd': result.score.ood.atd, 'clipn.label_set': prepared.labelSet.id });
      const out: OutputRecord[] = [{ topic: topics.results, key, value: await codec.encode('TaggedImage', taggedImage(job, result.score, prepared, decision, timings)), headers }];
      if (decision.review) {
        const item = reviewItem(job, result.score, prepared, decision, result.embedding, config.processing.review.image);
        out.push({ topic: topics.review, key, value: await codec.encode('ReviewItem', item), headers });
      }
      this.deps.metrics.result(outlier.review ? 'reviewed' : 'tagged', prepared.labelSet.id, prepared.labelSet.routing.rule);
      return out;
    } catch (error) {
      const e = toClipnError(error);
      this.deps.logger.warn({ code: e.code, topic: source.topic, partition: source.partition, offset: message.offset, id: job?.id }, e.message);
      this.deps.metrics.result('dead_lettered', job?.labelSetId ?? null, null, e.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.code });
      span.setAttribute('error.type', e.code);
      const letter = deadLetter({ ...source, offset: message.offset, key: message.key, timestamp: message.timestamp, value: message.value, headers: message.headers }, e, job?.id ?? null, config.processing.deadLetter.maxValueBytes);
      return [{ topic: topics.deadLetter, key: message.key, value: await codec.encode('DeadLetter', letter), headers: injectSpan(span, passHeaders(message)) }];
    }
  }

  private async infer(items: InferItem[]): Promise<InferResult[]> {
    const t0 = performance.now();
    const embeds = await items[0]!.classifier.embed(ClipnClassifier.stack(items.map((i) => i.tensor)), items.length);
    const t1 = performance.now();
    const dim = embeds.length / items.length;
    return items.map((item, i) => {
      const s0 = performance.now();
      const embedding = embeds.slice(i * dim, (i + 1) * dim);
      const score = item.classifier.score(embedding, 1, item.prepared)[0]!;
      return { score, embedding, inferMs: t1 - t0, scoreMs: performance.now() - s0, inferStart: t0, inferEnd: t1 };
    });
  }
}

/** Headers carried from the input to every record produced for it (trace context is injected anew). */
function passHeaders(message: KafkaMessage): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {};
  for (const name of ['clipn-id']) {
    const v = message.headers?.[name];
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) out[name] = first;
  }
  return out;
}
