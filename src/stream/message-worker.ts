/**
 * One consumed message to its records: a TaggedImage (and a ReviewItem when the label set's
 * rule says so), or a DeadLetter. Retriable failures are tried again with backoff first; the
 * image data a message holds (its value or fetched body, decoded pixels, its tensor) is
 * reserved from the memory budgets before it is held, so a burst of large inputs waits
 * instead of exhausting memory.
 */
import { context, type Context, type Tracer } from '@opentelemetry/api';
import type { KafkaMessage } from '../kafka/index.js';
import type { PreparedLabelSet } from '../clipn/index.js';
import type { RecordCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError, isClipnError, toClipnError } from '../errors.js';
import { resolveImage } from '../images/index.js';
import { asPlugin, type PluginHost, type PluginRecord, type RecordMeta } from '../plugin/index.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { failSpan, injectContext, inStage, startMessageSpan, startStageSpan } from '../telemetry/tracing.js';
import type { Reservation } from './byte-budget.js';
import type { Inference, InferResult } from './inference.js';
import { messageId, parseMessage, type ImageJob } from './input.js';
import type { MemoryBudgets } from './memory.js';
import { recordBytes, type OutputRecord, type RecordOrigin, type SizeLimit } from './produce-plan.js';
import { deadLetter, reviewItem, taggedImage, type Timings } from './records.js';
import { withRetries } from '../retry.js';
import { withTrainingSample } from './routing.js';
import type { ServingState } from './serving-state.js';
import type { MessageSource } from './batch-handler.js';

export interface WorkerDeps {
  config: Config;
  codec: RecordCodec;
  state: ServingState;
  logger: Logger;
  tracer: Tracer;
  metrics: Metrics;
  inference: Inference;
  memory: MemoryBudgets;
  /** Image sources, routing rules, review sinks and result hooks (built-in and plugins). */
  plugins: PluginHost;
  /** Record size limit per output topic. */
  limit: SizeLimit;
  /** Aborted at shutdown: waits end, and work that would be retried is interrupted instead. */
  signal: AbortSignal;
}

/** What one attempt at a job produced. */
interface Scored {
  prepared: PreparedLabelSet;
  result: InferResult;
  resolveMs: number;
  decodeMs: number;
}

export class MessageWorker {
  constructor(private readonly deps: WorkerDeps) {}

  /**
   * The records for one message. Never rejects for bad input (that is a dead letter); rejects
   * with INTERRUPTED when shutdown stopped work that could still succeed, so it is not committed.
   */
  async handle(message: KafkaMessage, source: MessageSource): Promise<OutputRecord[]> {
    const { config, codec, metrics, signal } = this.deps;
    const { span, context: ctx } = startMessageSpan(this.deps.tracer, { ...source, groupId: config.kafka.groupId }, message);
    const origin: RecordOrigin = {
      topic: source.topic,
      partition: source.partition,
      offset: message.offset,
      key: message.key,
      timestamp: message.timestamp,
      headers: message.headers,
      id: messageId(message),
      valueBytes: message.value?.length ?? 0,
    };
    const started = performance.now();
    let job: ImageJob | null = null;
    let held: Reservation | null = null;
    try {
      const size = this.deps.state.current.classifier.preprocessSpec.imageSize;
      // The value (or the tensor it becomes) is held until the records are made.
      held = await this.deps.memory.held.reserve(Math.max(origin.valueBytes, 3 * size * size * 4), signal);
      const parsed = await parseMessage(codec, source.topic, source.partition, message);
      job = parsed;
      origin.id = parsed.id;
      const scored = await withRetries(() => this.attempt(parsed, ctx), config.processing.retry, {
        signal,
        onRetry: (e, attempt, waitMs) => {
          metrics.imageRetried(e.code);
          this.deps.logger.info({ code: e.code, id: parsed.id, attempt, waitMs }, `retrying: ${e.message}`);
        },
      });
      // Plugins run here (rules, hooks, sinks): a retriable plugin failure is tried again too.
      // In the message span's context: what plugins trace or send is part of the message's trace.
      const records = await withRetries(() => context.with(ctx, () => this.records(parsed, scored, message, ctx, origin, started)), config.processing.retry, { signal });
      span.setAttributes({ 'clipn.id': parsed.id, 'clipn.label': scored.result.score.label, 'clipn.ood.ctw': scored.result.score.ood.ctw, 'clipn.ood.atd': scored.result.score.ood.atd, 'clipn.label_set': scored.prepared.labelSet.id });
      return records;
    } catch (error) {
      const e = toClipnError(error);
      failSpan(span, e);
      if (signal.aborted && (e.retriable || isClipnError(e, 'INTERRUPTED'))) {
        throw new ClipnError('INTERRUPTED', `shutdown interrupted message ${source.topic}[${source.partition}]@${message.offset}: ${e.message}`, { cause: e });
      }
      this.deps.logger.warn({ code: e.code, topic: source.topic, partition: source.partition, offset: message.offset, id: origin.id }, e.message);
      metrics.imageProcessed('dead_lettered', job?.labelSetId ?? null);
      metrics.imageFailed(e.code);
      return [{ ...(await this.deadLetter(origin, message.value, e, injectContext(ctx, passHeaders(message)))), trace: ctx }];
    } finally {
      held?.release();
      span.end();
    }
  }

  /** One try: label set, image bytes, pixels, embedding and scores. */
  private async attempt(job: ImageJob, ctx: Context): Promise<Scored> {
    const { config, memory, signal, tracer } = this.deps;
    const snapshot = this.deps.state.current;
    const labelSetId = job.labelSetId ?? config.processing.defaultLabelSet;
    const prepared = snapshot.labelSets.get(labelSetId);
    if (!prepared) throw new ClipnError('LABEL_SET_UNKNOWN', `label set ${labelSetId} is not loaded (known: ${[...snapshot.labelSets.keys()].join(', ') || 'none'})`);
    const t0 = performance.now();
    let fetched: Reservation | null = null;
    let decoding: Reservation | null = null;
    try {
      if (job.image.kind === 'uri') fetched = await memory.fetch.reserve(Math.min(config.images.maxBytes, config.images.fetch.maxBytes), signal);
      const maxBytes = Math.min(config.images.maxBytes, config.images.fetch.maxBytes);
      const image = job.image;
      const { bytes } = await inStage(tracer, 'resolve', ctx, () =>
        image.kind === 'inline' ? resolveImage(image, config.images) : this.deps.plugins.resolve(image.uri, { signal, maxBytes }),
      );
      fetched?.resize(bytes.length);
      const t1 = performance.now();
      const { tensor } = await inStage(tracer, 'decode', ctx, () =>
        snapshot.classifier.decode(bytes, {
          beforeDecode: async (estimate) => {
            decoding = await memory.decode.reserve(estimate.bytes, signal);
          },
        }),
      );
      const t2 = performance.now();
      this.deps.metrics.stageDuration('resolve', t1 - t0);
      this.deps.metrics.stageDuration('decode', t2 - t1);
      fetched?.release();
      (decoding as Reservation | null)?.release();
      const result = await this.deps.inference.infer({ tensor, classifier: snapshot.classifier, prepared });
      const origin = performance.timeOrigin;
      startStageSpan(tracer, 'infer', ctx, { startTime: origin + result.inferStart }).end(origin + result.inferEnd);
      startStageSpan(tracer, 'score', ctx, { startTime: origin + result.inferEnd }).end(origin + result.inferEnd + result.scoreMs);
      this.deps.metrics.stageDuration('infer', result.inferMs);
      this.deps.metrics.stageDuration('score', result.scoreMs);
      return { prepared, result, resolveMs: t1 - t0, decodeMs: t2 - t1 };
    } finally {
      fetched?.release();
      (decoding as Reservation | null)?.release();
    }
  }

  private async records(job: ImageJob, scored: Scored, message: KafkaMessage, ctx: Context, origin: RecordOrigin, started: number): Promise<OutputRecord[]> {
    const { config, codec, metrics, plugins } = this.deps;
    const { prepared, result } = scored;
    const outlier = await plugins.decide({ score: result.score, labelSet: prepared.labelSet });
    // Part of the captioned ID traffic goes to review too, as training pairs for the trainer.
    const decision = withTrainingSample(outlier, job, result.score, config.trainer.captionSampleShare, config.trainer.splitSalt);
    const timings: Timings = { resolveMs: scored.resolveMs, decodeMs: scored.decodeMs, inferMs: result.inferMs, scoreMs: result.scoreMs, totalMs: performance.now() - started };
    const key = job.key ?? job.id;
    // The message span's traceparent; the instrumentation's send span replaces it when it runs.
    const headers = injectContext(ctx, passHeaders(message));
    const meta: RecordMeta = { id: job.id, key, headers };
    const asOutput = (r: PluginRecord): OutputRecord => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers ?? headers, origin, trace: ctx });
    const tagged = taggedImage(job, result.score, prepared, decision, timings);
    const extra: OutputRecord[] = [];
    for (const { plugin, hook } of plugins.resultHooks) {
      const added = await asPlugin(plugin, 'result hook', () => hook.onResult(tagged, meta));
      if (added?.metadata) tagged.metadata = { ...tagged.metadata, ...added.metadata };
      for (const r of added?.records ?? []) extra.push(asOutput(r));
    }
    const out: OutputRecord[] = [{ topic: config.kafka.topics.results, key, value: await codec.encode('TaggedImage', tagged), headers, origin, trace: ctx }, ...extra];
    if (decision.review) {
      const item = reviewItem(job, result.score, prepared, decision, result.embedding, config.processing.review.image);
      for (const { plugin, sink } of plugins.reviewSinks) {
        for (const r of (await asPlugin(plugin, 'review sink', () => sink.deliver(item, meta))) ?? []) out.push(asOutput(r));
      }
    }
    metrics.imageDuration(timings.totalMs);
    metrics.imageProcessed(outlier.review ? 'reviewed' : 'tagged', prepared.labelSet.id);
    if (outlier.review) metrics.oodFlaggedImage(prepared.labelSet.id, prepared.labelSet.routing.rule);
    return out;
  }

  /**
   * A dead letter for `origin`, keeping as much of `value` as processing.deadLetter.maxValueBytes
   * allows and the dead-letter topic's size limit leaves room for.
   */
  async deadLetter(origin: RecordOrigin, value: Buffer | null, error: ClipnError, headers: Record<string, string | Buffer>): Promise<OutputRecord> {
    const { codec, config } = this.deps;
    const topic = config.kafka.topics.deadLetter;
    const message = { ...origin, value };
    const empty = await codec.encode('DeadLetter', deadLetter({ ...message, value: null }, error, origin.id, 0));
    const room = this.deps.limit(topic) - recordBytes({ topic, key: origin.key, value: empty, headers }) - 64;
    const cap = Math.max(0, Math.min(config.processing.deadLetter.maxValueBytes, room));
    return { topic, key: origin.key, value: await codec.encode('DeadLetter', deadLetter(message, error, origin.id, cap)), headers, origin };
  }

  /** The dead letter that replaces an output record too large for its topic (the value is not kept). */
  async replaceOversize(record: OutputRecord, bytes: number, limit: number): Promise<OutputRecord> {
    const origin = record.origin;
    if (origin === undefined) throw new ClipnError('INTERNAL', `a ${bytes}-byte record for ${record.topic} has no origin to dead-letter`);
    const error = new ClipnError('OUTPUT_TOO_LARGE', `the ${record.topic} record for this input is ${bytes} bytes, the topic takes ${limit} (max.message.bytes)`, { details: { topic: record.topic, bytes, limit } });
    this.deps.metrics.imageFailed(error.code);
    this.deps.logger.warn({ code: error.code, topic: origin.topic, partition: origin.partition, offset: origin.offset, id: origin.id }, error.message);
    const topic = this.deps.config.kafka.topics.deadLetter;
    const letter = { ...deadLetter({ ...origin, value: null }, error, origin.id, 0), originalValueBytes: origin.valueBytes, truncated: origin.valueBytes > 0 };
    return { topic, key: origin.key, value: await this.deps.codec.encode('DeadLetter', letter), headers: record.headers ?? {}, origin, trace: record.trace };
  }
}

/** Headers carried from the input to every record produced for it (trace context is set anew). */
function passHeaders(message: KafkaMessage): Record<string, string | Buffer> {
  const out: Record<string, string | Buffer> = {};
  for (const name of ['clipn-id']) {
    const v = message.headers?.[name];
    const first = Array.isArray(v) ? v[0] : v;
    if (first !== undefined && first !== null) out[name] = first;
  }
  return out;
}
