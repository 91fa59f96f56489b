/**
 * Every instrument of the product, created once from a Meter, with typed record methods.
 * Names follow the OTel conventions (dotted, `clipn.` prefix, units in `unit`, no `_total`);
 * Prometheus sees them as e.g. clipn_images_processed_total. OOD rate = ood_flagged / processed.
 */
import type { Counter, Histogram, Meter, ObservableResult, UpDownCounter } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_MESSAGING_DESTINATION_NAME, ATTR_MESSAGING_DESTINATION_PARTITION_ID } from './semconv.js';
import type { LagProvider, Outcome, ReleaseKind, Stage } from './types.js';

/** Stage latency buckets in ms: 0.5 ms (a cache hit) up to 10 s (a slow fetch). */
export const LATENCY_BUCKETS_MS: readonly number[] = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** Batch size buckets, powers of two up to the largest micro-batch worth running. */
export const BATCH_SIZE_BUCKETS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** Label value when an image failed before its label set was known. */
const UNKNOWN = 'unknown';

/** The product's instruments; one instance per Meter, shared by the processor and the trainer. */
export class Metrics {
  private readonly processed: Counter;
  private readonly failed: Counter;
  private readonly retried: Counter;
  private readonly oodFlagged: Counter;
  private readonly stageLatency: Histogram;
  private readonly imageLatency: Histogram;
  private readonly batchSizes: Histogram;
  private readonly eventLoopDelays: Histogram;
  private readonly inFlight: UpDownCounter;
  private readonly paused: UpDownCounter;
  private readonly releasesAccepted: Counter;
  private readonly releasesRefused: Counter;
  private readonly cacheHits: Counter;
  private readonly cacheMisses: Counter;
  private readonly trainerRuns: Counter;
  private readonly trainerPublished: Counter;
  private readonly trainerRefused: Counter;
  private lagProvider: LagProvider | null = null;
  // The SDK keeps reporting an attribute set's last value once seen (cumulative temporality),
  // so series that went away are observed as 0 rather than left frozen at a stale value.
  private readonly lagSeen = new Map<string, { topic: string; partition: number }>();
  private readonly labelSetVersions = new Map<string, number>();
  private readonly modelVersions = new Map<string, string>();
  private readonly retiredModels = new Map<string, { model: string; version: string }>();

  constructor(meter: Meter) {
    const image = '{image}';
    this.processed = meter.createCounter('clipn.images.processed', { unit: image, description: 'Images consumed and settled, by label_set and outcome (tagged, reviewed, dead_lettered)' });
    this.failed = meter.createCounter('clipn.images.failed', { unit: image, description: 'Images sent to the dead-letter topic, by error.type (the ClipnError code)' });
    this.retried = meter.createCounter('clipn.images.retried', { unit: '{attempt}', description: 'Tries repeated after a retriable failure, by error.type (the ClipnError code)' });
    this.oodFlagged = meter.createCounter('clipn.images.ood_flagged', { unit: image, description: 'Images flagged out-of-distribution, by label_set and rule; OOD rate = ood_flagged / processed' });
    this.stageLatency = meter.createHistogram('clipn.stage.duration', { unit: 'ms', description: 'Latency of one processing stage for one image, by stage', advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_MS] } });
    this.imageLatency = meter.createHistogram('clipn.image.duration', { unit: 'ms', description: 'Latency of one image from consume to produce', advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_MS] } });
    this.eventLoopDelays = meter.createHistogram('clipn.event_loop.delay', { unit: 'ms', description: 'How late the event-loop watch\'s timer fired, once per tick (100 ms): how long synchronous work held the loop; /healthz fails at telemetry.health.eventLoopBlockedMs', advice: { explicitBucketBoundaries: [...LATENCY_BUCKETS_MS] } });
    this.batchSizes = meter.createHistogram('clipn.batch.size', { unit: image, description: 'Images per inference micro-batch', advice: { explicitBucketBoundaries: [...BATCH_SIZE_BUCKETS] } });
    this.inFlight = meter.createUpDownCounter('clipn.images.in_flight', { unit: image, description: 'Images consumed and not yet settled' });
    this.paused = meter.createUpDownCounter('clipn.partitions.paused', { unit: '{partition}', description: 'Input partitions paused by backpressure' });
    this.releasesAccepted = meter.createCounter('clipn.releases.accepted', { unit: '{release}', description: 'Label sets and model releases put into service, by kind' });
    this.releasesRefused = meter.createCounter('clipn.releases.refused', { unit: '{release}', description: 'Label sets and model releases refused, by kind and reason' });
    this.cacheHits = meter.createCounter('clipn.text_embedding_cache.hits', { unit: '{lookup}', description: 'Text-embedding cache lookups answered from the cache' });
    this.cacheMisses = meter.createCounter('clipn.text_embedding_cache.misses', { unit: '{lookup}', description: 'Text-embedding cache lookups that ran the text encoder' });
    this.trainerRuns = meter.createCounter('clipn.trainer.runs', { unit: '{run}', description: 'Trainer runs started' });
    this.trainerPublished = meter.createCounter('clipn.trainer.published', { unit: '{release}', description: 'Model releases the trainer published' });
    this.trainerRefused = meter.createCounter('clipn.trainer.refused', { unit: '{release}', description: 'Trained models the gate refused, by reason' });

    meter.createObservableGauge('clipn.consumer.lag', { unit: '{message}', description: 'Messages between the committed offset and the partition end, per assigned partition (0 once unassigned)' }).addCallback((r) => this.observeLag(r));
    meter.createObservableGauge('clipn.label_set.version', { unit: '{version}', description: 'Version of each label set in service, by label_set (0 once removed)' }).addCallback((r: ObservableResult) => {
      for (const [labelSet, version] of this.labelSetVersions) r.observe(version, { label_set: labelSet });
    });
    meter.createObservableGauge('clipn.model.version', { unit: '1', description: 'Model version in service: 1, with model and version attributes (0 for versions replaced)' }).addCallback((r: ObservableResult) => {
      for (const [model, version] of this.modelVersions) r.observe(1, { model, version });
      for (const retired of this.retiredModels.values()) r.observe(0, retired);
    });
  }

  private observeLag(r: ObservableResult): void {
    const rows = this.lagProvider ? this.lagProvider() : [];
    const now = new Set<string>();
    for (const l of rows) {
      const key = `${l.topic}\u0000${l.partition}`;
      now.add(key);
      this.lagSeen.set(key, { topic: l.topic, partition: l.partition });
      r.observe(l.lag, { [ATTR_MESSAGING_DESTINATION_NAME]: l.topic, [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(l.partition) });
    }
    for (const [key, p] of this.lagSeen) {
      if (!now.has(key)) r.observe(0, { [ATTR_MESSAGING_DESTINATION_NAME]: p.topic, [ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(p.partition) });
    }
  }

  /** One image settled with `outcome`; `labelSet` null when it failed before one was known. */
  imageProcessed(outcome: Outcome, labelSet: string | null): void {
    this.processed.add(1, { label_set: labelSet ?? UNKNOWN, outcome });
  }

  /** One image dead-lettered with this error code. */
  imageFailed(errorCode: string): void {
    this.failed.add(1, { [ATTR_ERROR_TYPE]: errorCode });
  }

  /** One image tried again after a retriable failure with this error code. */
  imageRetried(errorCode: string): void {
    this.retried.add(1, { [ATTR_ERROR_TYPE]: errorCode });
  }

  /** One image flagged OOD under `rule` (e.g. ctw, atd). */
  oodFlaggedImage(labelSet: string, rule: string): void {
    this.oodFlagged.add(1, { label_set: labelSet, rule });
  }

  /** Latency of one stage for one image, in ms. */
  stageDuration(stage: Stage, ms: number): void {
    this.stageLatency.record(ms, { stage });
  }

  /** End-to-end latency of one image, in ms. */
  imageDuration(ms: number): void {
    this.imageLatency.record(ms);
  }

  /** Size of one inference micro-batch. */
  batchSize(images: number): void {
    this.batchSizes.record(images);
  }

  /** How late one tick of the event-loop watch fired, in ms. */
  eventLoopDelay(ms: number): void {
    this.eventLoopDelays.record(ms);
  }

  /** Images taken (+n) or settled (-n). */
  inFlightChanged(delta: number): void {
    this.inFlight.add(delta);
  }

  /** Partitions paused (+n) or resumed (-n). */
  pausedPartitionsChanged(delta: number): void {
    this.paused.add(delta);
  }

  /** Registers the function read at each collection for per-partition lag; replaces any earlier one. */
  setLagProvider(provider: LagProvider): void {
    this.lagProvider = provider;
  }

  /** A label set in service at `version`. */
  labelSetInService(labelSet: string, version: number): void {
    this.labelSetVersions.set(labelSet, version);
  }

  /** A label set taken out of service: its gauge reads 0. */
  labelSetRemoved(labelSet: string): void {
    if (this.labelSetVersions.has(labelSet)) this.labelSetVersions.set(labelSet, 0);
  }

  /** The model `model` is in service at `version`; its earlier version's gauge reads 0. */
  modelInService(model: string, version: string | number): void {
    const v = String(version);
    const previous = this.modelVersions.get(model);
    if (previous !== undefined && previous !== v) this.retiredModels.set(`${model}\u0000${previous}`, { model, version: previous });
    this.retiredModels.delete(`${model}\u0000${v}`);
    this.modelVersions.set(model, v);
  }

  /** A label set or model release was put into service. */
  releaseAccepted(kind: ReleaseKind): void {
    this.releasesAccepted.add(1, { kind });
  }

  /** A label set or model release was refused, e.g. reason "checksum", "stale", "invalid". */
  releaseRefused(kind: ReleaseKind, reason: string): void {
    this.releasesRefused.add(1, { kind, reason });
  }

  /** Text-embedding cache lookups since the last call. */
  textCacheLookups(hits: number, misses: number): void {
    if (hits > 0) this.cacheHits.add(hits);
    if (misses > 0) this.cacheMisses.add(misses);
  }

  /** A trainer run started. */
  trainerRunStarted(): void {
    this.trainerRuns.add(1);
  }

  /** The trainer published a model release. */
  trainerReleasePublished(): void {
    this.trainerPublished.add(1);
  }

  /** The trainer's gate refused a trained model. */
  trainerReleaseRefused(reason: string): void {
    this.trainerRefused.add(1, { reason });
  }
}
