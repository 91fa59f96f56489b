/**
 * Observability against the real broker: trace context crosses the sidecar, every stage has a
 * span, /metrics moves and the lag drains to zero, /readyz waits for the default label set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, ROOT_CONTEXT, SpanKind, trace, TraceFlags } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { createCodec } from '../../src/codec/index.js';
import { Sidecar } from '../../src/service/sidecar.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { SCOPE, startTelemetry } from '../../src/telemetry/sdk.js';
import { collect, createTopics, produce, testKafka, uniqueName, until } from './helpers/kafka.js';
import { demoImages, sidecarEnv, testConfig, testTopics } from './helpers/sidecar.js';
import { ROOT } from '../helpers/clipn-cli.js';

const memory = new InMemorySpanExporter();
const otel = startTelemetry({ serviceName: 'clipn-test', otlpEndpoint: null, spanProcessors: [new SimpleSpanProcessor({ exporter: memory })], env: {} });

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

function metricValue(text: string, name: string, match: string): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && l.includes(match))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);
}

test('readiness, trace propagation, stage spans and metrics', { timeout: 180_000 }, async () => {
  const kafka = testKafka();
  const codec = createCodec({ registryUrl: null });
  const topics = testTopics();
  await createTopics(kafka, [{ topic: topics.input }, { topic: topics.results }, { topic: topics.review }, { topic: topics.deadLetter }, { topic: topics.labelSets, partitions: 1, compact: true }, { topic: topics.modelReleases, partitions: 1, compact: true }]);
  const config = testConfig(sidecarEnv(topics, uniqueName('g')));
  const logger = createLogger({ level: 'warn', serviceName: 'test', destination: { write: () => undefined } });
  const sidecar = new Sidecar({ config, logger, root: ROOT, telemetry: { tracer: otel.tracer, metrics: new Metrics(otel.meter), metricsHandler: otel.metricsHandler } });
  const results = await collect(kafka, topics.results);
  const letters = await collect(kafka, topics.deadLetter);
  const reviews = await collect(kafka, topics.review);
  const starting = sidecar.start();
  try {
    await until('the health endpoint', () => sidecar.httpPort !== null, 30_000);
    const port = sidecar.httpPort!;
    assert.equal((await get(port, '/healthz')).status, 200);
    await until('the model loaded', async () => (await get(port, '/readyz')).body.includes('label-set:default'), 30_000);
    const before = await get(port, '/readyz');
    assert.equal(before.status, 503, 'not ready before the default label set is loaded');
    assert.match(before.body, /label-set:default/);

    await produce(kafka, topics.labelSets, [{ key: 'default', value: await codec.encode('LabelSet', { id: 'default', version: 1, labels: ['circle', 'square', 'star'], templates: null, routing: { rule: 'atd', params: {} }, thresholds: null, description: null, updatedAt: Date.now() }) }]);
    await starting;
    await until('ready', async () => (await get(port, '/readyz')).status === 200, 30_000);

    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const images = demoImages().slice(0, 40);
    // The inputs are sent inside the caller's trace: the instrumentation's send spans (and the
    // traceparent they write) are children of the active span.
    const caller = trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: '00f067aa0ba902b7', traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const inputs = [...images.map((img, i) => ({ key: `t-${i}`, value: img.bytes, headers: { 'clipn-id': `t-${i}` } })), { key: 't-bad', value: Buffer.from('not an image'), headers: { 'clipn-id': 't-bad' } }];
    await context.with(caller, () => produce(kafka, topics.input, inputs));
    await results.waitFor('40 results', (ms) => ms.length >= 40, 60_000);
    await letters.waitFor('the dead letter', (ms) => ms.length >= 1, 60_000);
    // Stage spans end once the records are acknowledged, which can be just after a consumer sees them.
    const inTrace = () => memory.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    await until('a produce span per message in the input trace', async () => inTrace().filter((s) => s.name === 'produce').length >= 41, 10_000);
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const names = new Set(spans.map((s) => s.name));
    for (const stage of [`process ${topics.input}`, 'resolve', 'decode', 'infer', 'score', 'produce', `send ${topics.results}`]) assert.ok(names.has(stage), `a ${stage} span in the input's trace (got ${[...names].join(', ')})`);
    // Each record names its send span: input trace → message span → produce stage → send <topic>.
    const chain = (m: { headers?: Record<string, unknown> }, topic: string): string => {
      const tp = String(m.headers?.traceparent ?? '');
      const match = new RegExp(`^00-${traceId}-([0-9a-f]{16})-01$`).exec(tp);
      assert.ok(match, `the ${topic} record carries the input trace id (got ${tp})`);
      const send = byId.get(match[1]!);
      assert.equal(send?.name, `send ${topic}`, 'the traceparent names the send span');
      assert.equal(send.kind, SpanKind.PRODUCER);
      assert.equal(send.instrumentationScope.name, '@opentelemetry/instrumentation-kafkajs');
      const stage = byId.get(send.parentSpanContext?.spanId ?? '');
      assert.equal(stage?.name, 'produce', 'the send span is a child of the produce stage');
      assert.equal(stage.kind, SpanKind.INTERNAL);
      const message = byId.get(stage.parentSpanContext?.spanId ?? '');
      assert.equal(message?.name, `process ${topics.input}`, 'the produce stage is a child of the message span');
      assert.equal(message.instrumentationScope.name, SCOPE);
      return match[1]!;
    };
    const sends = results.messages.map((m) => chain(m, topics.results));
    for (const m of [...letters.messages]) chain(m, topics.deadLetter);
    for (const m of [...reviews.messages]) chain(m, topics.review);
    // The results' consumer (the collector) continues the trace under the send span.
    await until('the collector process spans', async () => memory.getFinishedSpans().filter((s) => s.name === `process ${topics.results}`).length >= 40, 10_000);
    const consumed = memory.getFinishedSpans().filter((s) => s.name === `process ${topics.results}`);
    assert.deepEqual(new Set(consumed.map((s) => s.parentSpanContext?.spanId)), new Set(sends));
    const process = spans.find((s) => s.name === `process ${topics.input}` && s.instrumentationScope.name === SCOPE)!;
    // Current messaging conventions (1.45), not the deprecated messaging.system.
    assert.equal(process.attributes['messaging.system.name'], 'kafka');
    assert.equal(process.attributes['messaging.system'], undefined);
    assert.equal(process.attributes['messaging.destination.name'], topics.input);

    await until('lag at zero', async () => {
      const text = (await get(port, '/metrics')).body;
      const lagLines = text.split('\n').filter((l) => l.startsWith('clipn_consumer_lag') && l.includes(topics.input));
      return lagLines.length > 0 && lagLines.every((l) => Number(l.split(' ').pop()) === 0);
    }, 30_000);
    const text = (await get(port, '/metrics')).body;
    const processed = metricValue(text, 'clipn_images_processed_total', 'label_set="default"');
    assert.ok(processed >= 40, `processed counter moved (${processed})`);
    assert.ok(metricValue(text, 'clipn_stage_duration_count', 'stage="infer"') >= 40);
    assert.ok(metricValue(text, 'clipn_batch_size_count', '') >= 1);
    assert.ok(metricValue(text, 'clipn_event_loop_delay_count', '') >= 1, 'the event-loop watch records each tick');
    assert.match(text, /clipn_label_set_version\{.*label_set="default"/);
  } finally {
    await sidecar.stop();
    await results.stop();
    await letters.stop();
    await reviews.stop();
    await otel.shutdown();
  }
});
