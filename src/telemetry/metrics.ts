/** Every instrument of the product, created once from a Meter, with typed record methods. */
import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';

const LATENCY_BUCKETS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

export class Metrics {
  private readonly processed;
  private readonly failed;
  private readonly flagged;
  private readonly stageLatency;
  private readonly batchSize;
  private readonly inFlight;
  private readonly paused;
  private readonly releases;
  private readonly cache;
  private readonly trainerRuns;
  private readonly lag = new Map<string, { topic: string; partition: number; lag: number }>();
  private readonly versions = new Map<string, Attributes>();

  constructor(meter: Meter) {
    this.processed = meter.createCounter('clipn.images.processed', { description: 'Images consumed, by outcome (tagged, reviewed, dead_lettered) and label set' });
    this.failed = meter.createCounter('clipn.images.failed', { description: 'Images that went to the dead-letter topic, by error code' });
    this.flagged = meter.createCounter('clipn.images.ood', { description: 'Images routed to review as OOD, by label set and rule (OOD rate = ood / processed)' });
    this.stageLatency = meter.createHistogram('clipn.stage.duration', { unit: 'ms', description: 'Per-stage latency: resolve, decode, infer, score, produce, total', advice: { explicitBucketBoundaries: LATENCY_BUCKETS } });
    this.batchSize = meter.createHistogram('clipn.batch.size', { description: 'Images per inference micro-batch', advice: { explicitBucketBoundaries: [1, 2, 4, 8, 16, 32, 64, 128] } });
    this.inFlight = meter.createUpDownCounter('clipn.images.in_flight', { description: 'Images consumed and not yet delivered' });
    this.paused = meter.createUpDownCounter('clipn.partitions.paused', { description: 'Partitions paused by backpressure' });
    this.releases = meter.createCounter('clipn.side_channel.updates', { description: 'Label sets and model releases applied or refused' });
    this.cache = meter.createCounter('clipn.text_cache.lookups', { description: 'Text-embedding cache lookups, by result (hit, miss)' });
    this.trainerRuns = meter.createCounter('clipn.trainer.runs', { description: 'Trainer runs, by outcome' });
    meter.createObservableGauge('clipn.consumer.lag', { description: 'Messages behind the partition end, per partition' }).addCallback((r: ObservableResult) => {
      for (const l of this.lag.values()) r.observe(l.lag, { 'messaging.destination.name': l.topic, 'messaging.destination.partition.id': String(l.partition) });
    });
    meter.createObservableGauge('clipn.serving.version', { description: 'Label-set and model versions in service (value 1, versions as attributes)' }).addCallback((r: ObservableResult) => {
      for (const attrs of this.versions.values()) r.observe(1, attrs);
    });
  }

  result(outcome: 'tagged' | 'reviewed' | 'dead_lettered', labelSet: string | null, rule: string | null, code?: string): void {
    this.processed.add(1, { outcome, label_set: labelSet ?? 'unknown' });
    if (outcome === 'reviewed') this.flagged.add(1, { label_set: labelSet ?? 'unknown', rule: rule ?? 'unknown' });
    if (outcome === 'dead_lettered') this.failed.add(1, { 'error.code': code ?? 'INTERNAL' });
  }

  stage(stage: 'resolve' | 'decode' | 'infer' | 'score' | 'produce' | 'total', ms: number): void {
    this.stageLatency.record(ms, { stage });
  }

  batch(size: number): void {
    this.batchSize.record(size);
  }

  inFlightDelta(n: number): void {
    this.inFlight.add(n);
  }

  pausedDelta(n: number): void {
    this.paused.add(n);
  }

  consumerLag(topic: string, partition: number, lag: number): void {
    this.lag.set(`${topic}/${partition}`, { topic, partition, lag });
  }

  sideChannel(kind: 'label-set' | 'release', outcome: 'applied' | 'refused'): void {
    this.releases.add(1, { kind, outcome });
  }

  serving(key: string, attrs: Attributes): void {
    this.versions.set(key, attrs);
  }

  cacheLookups(hits: number, misses: number): void {
    if (hits > 0) this.cache.add(hits, { result: 'hit' });
    if (misses > 0) this.cache.add(misses, { result: 'miss' });
  }

  trainerRun(outcome: 'published' | 'refused' | 'failed' | 'skipped'): void {
    this.trainerRuns.add(1, { outcome });
  }
}
