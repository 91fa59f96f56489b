import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { LATENCY_BUCKETS_MS, Metrics } from '../../src/telemetry/metrics.js';
import type { PartitionLag } from '../../src/telemetry/types.js';

/** A pull reader: collect() on demand, nothing exported anywhere. */
class MemoryReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

async function setup(): Promise<{ metrics: Metrics; read: () => Promise<Map<string, MetricData>>; provider: MeterProvider }> {
  const reader = new MemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  const metrics = new Metrics(provider.getMeter('test'));
  const read = async (): Promise<Map<string, MetricData>> => {
    const { resourceMetrics, errors } = await reader.collect();
    assert.deepEqual(errors, []);
    return new Map(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => [m.descriptor.name, m]));
  };
  return { metrics, read, provider };
}

/** The value of the data point whose attributes include `match` (sum or gauge), or null. */
function value(data: Map<string, MetricData>, name: string, match: Attributes = {}): number | null {
  const metric = data.get(name);
  if (!metric) return null;
  const point = metric.dataPoints.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return point === undefined ? null : (point.value as number);
}

function histogram(data: Map<string, MetricData>, name: string, match: Attributes = {}): { count: number; sum: number; boundaries: number[] } | null {
  const metric = data.get(name);
  if (!metric || metric.dataPointType !== DataPointType.HISTOGRAM) return null;
  const point = metric.dataPoints.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v));
  return point ? { count: point.value.count, sum: point.value.sum ?? NaN, boundaries: point.value.buckets.boundaries } : null;
}

test('processed, failed and OOD-flagged counters move with their attributes', async () => {
  const { metrics, read, provider } = await setup();
  metrics.imageProcessed('tagged', 'animals');
  metrics.imageProcessed('tagged', 'animals');
  metrics.imageProcessed('reviewed', 'animals');
  metrics.oodFlaggedImage('animals', 'atd');
  metrics.imageProcessed('dead_lettered', null);
  metrics.imageFailed('IMAGE_DECODE_FAILED');
  const d = await read();
  assert.equal(value(d, 'clipn.images.processed', { label_set: 'animals', outcome: 'tagged' }), 2);
  assert.equal(value(d, 'clipn.images.processed', { label_set: 'animals', outcome: 'reviewed' }), 1);
  assert.equal(value(d, 'clipn.images.processed', { label_set: 'unknown', outcome: 'dead_lettered' }), 1);
  assert.equal(value(d, 'clipn.images.ood_flagged', { label_set: 'animals', rule: 'atd' }), 1);
  assert.equal(value(d, 'clipn.images.failed', { 'error.type': 'IMAGE_DECODE_FAILED' }), 1);
  assert.equal(d.get('clipn.images.processed')!.descriptor.unit, '{image}');
  await provider.shutdown();
});

test('stage latency is a histogram in ms per stage with buckets from 0.5 ms to 10 s', async () => {
  const { metrics, read, provider } = await setup();
  metrics.stageDuration('infer', 12);
  metrics.stageDuration('infer', 30);
  metrics.stageDuration('decode', 0.7);
  metrics.imageDuration(45);
  metrics.batchSize(8);
  metrics.batchSize(3);
  const d = await read();
  const infer = histogram(d, 'clipn.stage.duration', { stage: 'infer' })!;
  assert.equal(infer.count, 2);
  assert.equal(infer.sum, 42);
  assert.deepEqual(infer.boundaries, [...LATENCY_BUCKETS_MS]);
  assert.equal(infer.boundaries[0], 0.5);
  assert.equal(infer.boundaries.at(-1), 10_000);
  assert.equal(histogram(d, 'clipn.stage.duration', { stage: 'decode' })!.count, 1);
  assert.equal(d.get('clipn.stage.duration')!.descriptor.unit, 'ms');
  assert.equal(histogram(d, 'clipn.image.duration')!.sum, 45);
  const batch = histogram(d, 'clipn.batch.size')!;
  assert.equal(batch.count, 2);
  assert.equal(batch.sum, 11);
  await provider.shutdown();
});

test('event-loop delays are a histogram in ms with the latency buckets', async () => {
  const { metrics, read, provider } = await setup();
  metrics.eventLoopDelay(0);
  metrics.eventLoopDelay(3);
  metrics.eventLoopDelay(1200);
  const d = await read();
  const delay = histogram(d, 'clipn.event_loop.delay')!;
  assert.equal(delay.count, 3);
  assert.equal(delay.sum, 1203);
  assert.deepEqual(delay.boundaries, [...LATENCY_BUCKETS_MS]);
  assert.equal(d.get('clipn.event_loop.delay')!.descriptor.unit, 'ms');
  await provider.shutdown();
});

test('in-flight and paused partitions go up and down', async () => {
  const { metrics, read, provider } = await setup();
  metrics.inFlightChanged(5);
  metrics.inFlightChanged(-2);
  metrics.pausedPartitionsChanged(1);
  metrics.pausedPartitionsChanged(1);
  metrics.pausedPartitionsChanged(-1);
  const d = await read();
  assert.equal(value(d, 'clipn.images.in_flight'), 3);
  assert.equal(value(d, 'clipn.partitions.paused'), 1);
  await provider.shutdown();
});

test('consumer lag is read from the registered provider at each collection', async () => {
  const { metrics, read, provider } = await setup();
  assert.equal(value(await read(), 'clipn.consumer.lag'), null, 'no provider, no points');
  let lags: PartitionLag[] = [
    { topic: 'images', partition: 0, lag: 12 },
    { topic: 'images', partition: 1, lag: 0 },
  ];
  metrics.setLagProvider(() => lags);
  let d = await read();
  assert.equal(value(d, 'clipn.consumer.lag', { 'messaging.destination.name': 'images', 'messaging.destination.partition.id': '0' }), 12);
  assert.equal(value(d, 'clipn.consumer.lag', { 'messaging.destination.partition.id': '1' }), 0);
  lags = [{ topic: 'images', partition: 0, lag: 3 }];
  d = await read();
  assert.equal(value(d, 'clipn.consumer.lag', { 'messaging.destination.partition.id': '0' }), 3);
  assert.equal(value(d, 'clipn.consumer.lag', { 'messaging.destination.partition.id': '1' }), 0, 'a revoked partition reads 0, not its last lag');
  lags = [{ topic: 'images', partition: 1, lag: 0 }, { topic: 'images', partition: 2, lag: 40 }];
  d = await read();
  assert.equal(value(d, 'clipn.consumer.lag', { 'messaging.destination.partition.id': '0' }), 0);
  assert.equal(value(d, 'clipn.consumer.lag', { 'messaging.destination.partition.id': '2' }), 40);
  await provider.shutdown();
});

test('label set and model versions in service are observable gauges', async () => {
  const { metrics, read, provider } = await setup();
  metrics.labelSetInService('default', 3);
  metrics.labelSetInService('animals', 1);
  metrics.modelInService('clipn-vit-b16', '2026-11-01.2');
  let d = await read();
  assert.equal(value(d, 'clipn.label_set.version', { label_set: 'default' }), 3);
  assert.equal(value(d, 'clipn.label_set.version', { label_set: 'animals' }), 1);
  assert.equal(value(d, 'clipn.model.version', { model: 'clipn-vit-b16', version: '2026-11-01.2' }), 1);
  metrics.labelSetInService('default', 4);
  metrics.labelSetRemoved('animals');
  metrics.modelInService('clipn-vit-b16', '2026-11-02.1');
  d = await read();
  assert.equal(value(d, 'clipn.label_set.version', { label_set: 'default' }), 4);
  assert.equal(value(d, 'clipn.label_set.version', { label_set: 'animals' }), 0, 'removed: 0');
  assert.equal(value(d, 'clipn.model.version', { version: '2026-11-02.1' }), 1);
  assert.equal(value(d, 'clipn.model.version', { version: '2026-11-01.2' }), 0, 'the replaced version reads 0, not a stale 1');
  // Rolling back brings the older version back to 1 and retires the newer one.
  metrics.modelInService('clipn-vit-b16', '2026-11-01.2');
  d = await read();
  assert.equal(value(d, 'clipn.model.version', { version: '2026-11-01.2' }), 1);
  assert.equal(value(d, 'clipn.model.version', { version: '2026-11-02.1' }), 0);
  await provider.shutdown();
});

test('releases, text cache and trainer counters', async () => {
  const { metrics, read, provider } = await setup();
  metrics.releaseAccepted('model');
  metrics.releaseAccepted('label_set');
  metrics.releaseRefused('model', 'checksum');
  metrics.releaseRefused('model', 'checksum');
  metrics.textCacheLookups(7, 2);
  metrics.textCacheLookups(0, 1);
  metrics.trainerRunStarted();
  metrics.trainerReleasePublished();
  metrics.trainerReleaseRefused('auroc below gate');
  const d = await read();
  assert.equal(value(d, 'clipn.releases.accepted', { kind: 'model' }), 1);
  assert.equal(value(d, 'clipn.releases.accepted', { kind: 'label_set' }), 1);
  assert.equal(value(d, 'clipn.releases.refused', { kind: 'model', reason: 'checksum' }), 2);
  assert.equal(value(d, 'clipn.text_embedding_cache.hits'), 7);
  assert.equal(value(d, 'clipn.text_embedding_cache.misses'), 3);
  assert.equal(value(d, 'clipn.trainer.runs'), 1);
  assert.equal(value(d, 'clipn.trainer.published'), 1);
  assert.equal(value(d, 'clipn.trainer.refused', { reason: 'auroc below gate' }), 1);
  await provider.shutdown();
});

test('retries are counted by error code', async () => {
  const { metrics, read, provider } = await setup();
  metrics.imageRetried('IMAGE_FETCH_TIMEOUT');
  metrics.imageRetried('IMAGE_FETCH_TIMEOUT');
  metrics.imageRetried('INFERENCE_FAILED');
  const d = await read();
  assert.equal(value(d, 'clipn.images.retried', { 'error.type': 'IMAGE_FETCH_TIMEOUT' }), 2);
  assert.equal(value(d, 'clipn.images.retried', { 'error.type': 'INFERENCE_FAILED' }), 1);
  await provider.shutdown();
});
