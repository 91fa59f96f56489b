/**
 * kafkajs client spans from @opentelemetry/instrumentation-kafkajs on clients of createKafka,
 * against the real broker: the product imports kafkajs as ESM, which require-in-the-middle does
 * not see, so these prove the factory's require lets the instrumentation patch it anyway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, ROOT_CONTEXT, SpanKind, trace, type Context } from '@opentelemetry/api';
import { MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { Kafka } from 'kafkajs';
import { withSendParents } from '../../src/telemetry/kafka-instrumentation.js';
import { startTelemetry } from '../../src/telemetry/sdk.js';
import type { Telemetry } from '../../src/telemetry/types.js';
import { createTopics, testKafka, uniqueName, until, waitForMessages, type ConsumedMessage } from './helpers/kafka.js';

const SCOPE = '@opentelemetry/instrumentation-kafkajs';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

/** A pull reader: collect() on demand. */
class MemoryReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

function start(): { otel: Telemetry; memory: InMemorySpanExporter; reader: MemoryReader } {
  const memory = new InMemorySpanExporter();
  const reader = new MemoryReader();
  // The Kafka client is made after telemetry starts, as the service does.
  const otel = startTelemetry({ serviceName: 'clipn-test', otlpEndpoint: null, spanProcessors: [new SimpleSpanProcessor({ exporter: memory })], metricReaders: [reader], prometheus: false, env: {} });
  return { otel, memory, reader };
}

async function topic(kafka: Kafka): Promise<string> {
  const name = uniqueName('otel');
  await createTopics(kafka, [{ topic: name, partitions: 1 }]);
  return name;
}

function traceparent(m: ConsumedMessage): { traceId: string; spanId: string } {
  const match = TRACEPARENT.exec(m.headers?.traceparent?.toString() ?? '');
  assert.ok(match, `a traceparent header on ${m.key?.toString()}, got ${JSON.stringify(m.headers?.traceparent?.toString())}`);
  return { traceId: match[1]!, spanId: match[2]! };
}

function sendSpans(memory: InMemorySpanExporter, name: string): ReadableSpan[] {
  return memory.getFinishedSpans().filter((s) => s.name === `send ${name}` && s.instrumentationScope.name === SCOPE);
}

test('a createKafka producer gets send spans and metrics, and the consumed message names its send span', { timeout: 60_000 }, async () => {
  const { otel, memory, reader } = start();
  try {
    const kafka = testKafka();
    const name = await topic(kafka);
    const parent = otel.tracer.startSpan('caller');
    const producer = kafka.producer();
    await producer.connect();
    try {
      await context.with(trace.setSpan(ROOT_CONTEXT, parent), () => producer.send({ topic: name, acks: -1, messages: [{ key: 'k1', value: 'v1' }] }));
    } finally {
      await producer.disconnect();
      parent.end();
    }
    const [message] = await waitForMessages(kafka, name, { count: 1, timeoutMs: 30_000 });
    const [send, ...more] = sendSpans(memory, name);
    assert.ok(send, `a send ${name} span from ${SCOPE} (got ${memory.getFinishedSpans().map((s) => `${s.instrumentationScope.name}:${s.name}`).join(', ')})`);
    assert.equal(more.length, 0, 'one send span for one message');
    assert.equal(send.kind, SpanKind.PRODUCER);
    assert.equal(send.attributes['messaging.system'], 'kafka');
    assert.equal(send.attributes['messaging.destination.name'], name);
    assert.equal(send.parentSpanContext?.spanId, parent.spanContext().spanId, 'the send span is a child of the active span');
    assert.deepEqual(traceparent(message!), { traceId: send.spanContext().traceId, spanId: send.spanContext().spanId }, "the message's traceparent names the send span");
    // The consuming side: the instrumentation's process span continues the send span's trace.
    await until('the consumer process span', () => memory.getFinishedSpans().some((s) => s.name === `process ${name}` && s.instrumentationScope.name === SCOPE), 10_000);
    const processSpan = memory.getFinishedSpans().find((s) => s.name === `process ${name}` && s.instrumentationScope.name === SCOPE)!;
    assert.equal(processSpan.parentSpanContext?.spanId, send.spanContext().spanId);
    const { resourceMetrics } = await reader.collect();
    const sent = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === SCOPE).flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'messaging.client.sent.messages');
    assert.ok(sent?.dataPoints.some((p) => p.attributes['messaging.destination.name'] === name && p.value === 1), 'the sent-messages counter of the instrumentation counts the send');
  } finally {
    await otel.shutdown();
  }
});

test('withSendParents gives each message of one sendBatch its own parent, in topicMessages order', { timeout: 60_000 }, async () => {
  const { otel, memory } = start();
  try {
    const kafka = testKafka();
    const [a, b] = [await topic(kafka), await topic(kafka)];
    const parents = ['p0', 'p1', 'p2'].map((n) => otel.tracer.startSpan(n, {}, ROOT_CONTEXT));
    const ctx = (i: number): Context => trace.setSpan(ROOT_CONTEXT, parents[i]!);
    const producer = kafka.producer();
    await producer.connect();
    try {
      const topicMessages = [
        { topic: a, messages: [{ key: 'a0', value: 'x' }, { key: 'a1', value: 'x' }] },
        { topic: b, messages: [{ key: 'b0', value: 'x' }] },
      ];
      await withSendParents([ctx(0), ctx(1), ctx(2)], () => producer.sendBatch({ acks: -1, topicMessages }));
    } finally {
      await producer.disconnect();
      for (const p of parents) p.end();
    }
    const got = [...(await waitForMessages(kafka, a, { count: 2, timeoutMs: 30_000 })), ...(await waitForMessages(kafka, b, { count: 1, timeoutMs: 30_000 }))];
    const spans = [...sendSpans(memory, a), ...sendSpans(memory, b)];
    for (const [i, key] of ['a0', 'a1', 'b0'].entries()) {
      const message = got.find((m) => m.key?.toString() === key)!;
      const send = spans.find((s) => s.spanContext().spanId === traceparent(message).spanId);
      assert.ok(send, `${key}'s traceparent names a send span`);
      assert.equal(send.parentSpanContext?.spanId, parents[i]!.spanContext().spanId, `${key}'s send span is a child of p${i}`);
      assert.equal(send.spanContext().traceId, parents[i]!.spanContext().traceId);
    }
    // Outside withSendParents the active context is the parent again.
    const other = otel.tracer.startSpan('other', {}, ROOT_CONTEXT);
    const again = kafka.producer();
    await again.connect();
    await context.with(trace.setSpan(ROOT_CONTEXT, other), () => again.send({ topic: a, acks: -1, messages: [{ key: 'a2', value: 'x' }] }));
    await again.disconnect();
    other.end();
    const last = sendSpans(memory, a).find((s) => s.attributes['messaging.kafka.message.key'] === 'a2');
    assert.equal(last?.parentSpanContext?.spanId, other.spanContext().spanId);
  } finally {
    await otel.shutdown();
  }
});

test('in a transaction of a confirming producer, send spans still take the given parents and the commit goes through', { timeout: 60_000 }, async () => {
  const { otel, memory } = start();
  try {
    const kafka = testKafka();
    const name = await topic(kafka);
    const parents = ['t0', 't1'].map((n) => otel.tracer.startSpan(n, {}, ROOT_CONTEXT));
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: uniqueName('tx') });
    await producer.connect();
    try {
      const tx = await producer.transaction();
      const messages = [{ key: 't0', value: 'x' }, { key: 't1', value: 'x' }];
      await withSendParents(parents.map((p) => trace.setSpan(ROOT_CONTEXT, p)), () => tx.sendBatch({ topicMessages: [{ topic: name, messages }] }));
      await tx.commit();
    } finally {
      await producer.disconnect();
      for (const p of parents) p.end();
    }
    const got = await waitForMessages(kafka, name, { count: 2, isolationLevel: 'read_committed', timeoutMs: 30_000 });
    const spans = sendSpans(memory, name);
    for (const [i, key] of ['t0', 't1'].entries()) {
      const send = spans.find((s) => s.spanContext().spanId === traceparent(got.find((m) => m.key?.toString() === key)!).spanId);
      assert.equal(send?.parentSpanContext?.spanId, parents[i]!.spanContext().spanId, `${key}'s send span is a child of t${i}, not of the transaction span`);
    }
    assert.ok(memory.getFinishedSpans().some((s) => s.name === 'transaction' && s.instrumentationScope.name === SCOPE), 'the transaction span ended with the commit');
  } finally {
    await otel.shutdown();
  }
});

test('telemetry started again in the same process patches kafkajs again; stopped, it does not', { timeout: 60_000 }, async () => {
  const kafka = testKafka();
  const name = await topic(kafka);
  const send = async (key: string): Promise<void> => {
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: name, acks: -1, messages: [{ key, value: 'x' }] });
    await producer.disconnect();
  };
  // No telemetry running (the earlier tests shut theirs down): no span, no traceparent.
  await send('off');
  const { otel, memory } = start();
  try {
    await send('on');
    assert.equal(sendSpans(memory, name).length, 1, 'a send span once telemetry runs again');
  } finally {
    await otel.shutdown();
  }
  const messages = await waitForMessages(kafka, name, { count: 2, timeoutMs: 30_000 });
  assert.equal(messages.find((m) => m.key?.toString() === 'off')?.headers?.traceparent, undefined, 'no traceparent while telemetry is stopped');
  traceparent(messages.find((m) => m.key?.toString() === 'on')!);
});
