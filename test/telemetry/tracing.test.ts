import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ClipnError } from '../../src/errors.js';
import { extractContext, failSpan, injectContext, injectSpan, inProduceStages, inStage, startMessageSpan, startStageSpan } from '../../src/telemetry/tracing.js';
import type { KafkaHeaders } from '../../src/telemetry/types.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/;
const source = { topic: 'images', partition: 2, groupId: 'clipn' };

function setup(): { exporter: InMemorySpanExporter; tracer: ReturnType<TracerProvider['getTracer']>; provider: TracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  return { exporter, tracer: provider.getTracer('test'), provider };
}

test('a traceparent in Buffer headers gives a child span in the same trace', async () => {
  const { exporter, tracer, provider } = setup();
  const headers: KafkaHeaders = { traceparent: Buffer.from(`00-${TRACE_ID}-${PARENT_ID}-01`), tracestate: Buffer.from('vendor=abc') };
  const remote = trace.getSpanContext(extractContext(headers, ROOT_CONTEXT))!;
  assert.equal(remote.traceId, TRACE_ID);
  assert.equal(remote.spanId, PARENT_ID);
  assert.equal(remote.isRemote, true);
  assert.equal(remote.traceState?.get('vendor'), 'abc');

  const { span } = startMessageSpan(tracer, source, { headers, offset: '41', key: Buffer.from('img-7') });
  span.end();
  const [done] = exporter.getFinishedSpans();
  assert.equal(done!.spanContext().traceId, TRACE_ID);
  assert.equal(done!.parentSpanContext?.spanId, PARENT_ID);
  assert.equal(done!.name, 'process images');
  assert.equal(done!.kind, SpanKind.CONSUMER);
  assert.deepEqual(done!.attributes, {
    'messaging.system.name': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': 'images',
    'messaging.destination.partition.id': '2',
    'messaging.consumer.group.name': 'clipn',
    'kafka.offset': 41,
    'kafka.message.key': 'img-7',
  });
  await provider.shutdown();
});

test('string, repeated and differently cased header values are read too', () => {
  for (const headers of [{ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, { traceparent: [Buffer.from(`00-${TRACE_ID}-${PARENT_ID}-01`), 'ignored'] }, { Traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }] as KafkaHeaders[]) {
    assert.equal(trace.getSpanContext(extractContext(headers, ROOT_CONTEXT))?.traceId, TRACE_ID, JSON.stringify(headers));
  }
});

test('missing or malformed trace context starts a new trace', async () => {
  const { exporter, tracer, provider } = setup();
  for (const headers of [undefined, {}, { traceparent: 'garbage' }, { traceparent: `00-${'0'.repeat(32)}-${PARENT_ID}-01` }] as Array<KafkaHeaders | undefined>) {
    assert.equal(trace.getSpanContext(extractContext(headers, ROOT_CONTEXT)), undefined, JSON.stringify(headers));
    startMessageSpan(tracer, source, { headers, offset: 1 }).span.end();
  }
  const spans = exporter.getFinishedSpans();
  assert.equal(spans.length, 4);
  for (const s of spans) {
    assert.equal(s.parentSpanContext, undefined);
    assert.notEqual(s.spanContext().traceId, TRACE_ID);
  }
  assert.equal(spans[0]!.attributes['kafka.message.key'], undefined, 'no key, no attribute');
  await provider.shutdown();
});

test('inject writes a valid traceparent (and tracestate) as strings, carrying the span ids', async () => {
  const { tracer, provider } = setup();
  const parent = extractContext({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'vendor=abc' }, ROOT_CONTEXT);
  const span = tracer.startSpan('work', {}, parent);
  const headers: KafkaHeaders = { 'clipn-id': Buffer.from('x') };
  const out = injectContext(trace.setSpan(ROOT_CONTEXT, span), headers);
  assert.equal(out, headers, 'written in place');
  assert.equal(typeof headers.traceparent, 'string');
  const m = TRACEPARENT.exec(headers.traceparent as string);
  assert.ok(m, `valid traceparent: ${String(headers.traceparent)}`);
  assert.equal(m[1], TRACE_ID);
  assert.equal(m[2], span.spanContext().spanId);
  assert.equal(headers.tracestate, 'vendor=abc');
  assert.ok(Buffer.isBuffer(headers['clipn-id']), 'other headers untouched');

  // Round trip: what was injected extracts back to the same span.
  const back = trace.getSpanContext(extractContext(headers, ROOT_CONTEXT))!;
  assert.equal(back.spanId, span.spanContext().spanId);

  // injectSpan overwrites a traceparent passed through from the input.
  const passed: KafkaHeaders = { traceparent: Buffer.from(`00-${TRACE_ID}-${PARENT_ID}-01`) };
  injectSpan(span, passed);
  assert.equal(passed.traceparent, `00-${TRACE_ID}-${span.spanContext().spanId}-01`);
  span.end();

  // No valid span in the context: nothing is written.
  const empty: KafkaHeaders = {};
  injectContext(ROOT_CONTEXT, empty);
  assert.deepEqual(empty, {});
  await provider.shutdown();
});

test('the message span links the span active where it starts (the poll span) and every stage is an INTERNAL child of it', async () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const { exporter, tracer, provider } = setup();
  try {
    const poll = tracer.startSpan('poll images', { kind: SpanKind.CLIENT }, ROOT_CONTEXT);
    const msg = context.with(trace.setSpan(ROOT_CONTEXT, poll), () => startMessageSpan(tracer, source, { headers: { traceparent: Buffer.from(`00-${TRACE_ID}-${PARENT_ID}-01`) }, offset: '10' }));
    const alone = startMessageSpan(tracer, source, { headers: {}, offset: '11' });
    for (const stage of ['resolve', 'decode', 'infer', 'score'] as const) startStageSpan(tracer, stage, msg.context).end();
    startStageSpan(tracer, 'produce', msg.span).end();
    for (const s of [msg.span, alone.span, poll]) s.end();

    const spans = exporter.getFinishedSpans();
    const m = spans.find((s) => s.spanContext().spanId === msg.span.spanContext().spanId)!;
    assert.equal(m.spanContext().traceId, TRACE_ID, 'the message span continues the producer trace, not the poll span trace');
    assert.deepEqual(m.links.map((l) => l.context.spanId), [poll.spanContext().spanId]);
    assert.deepEqual(spans.find((s) => s.spanContext().spanId === alone.span.spanContext().spanId)!.links, [], 'no link when no span is active');
    const stages = spans.filter((s) => s.attributes['clipn.stage'] !== undefined);
    assert.deepEqual(stages.map((s) => s.name), ['resolve', 'decode', 'infer', 'score', 'produce']);
    for (const s of stages) {
      assert.equal(s.spanContext().traceId, TRACE_ID);
      assert.equal(s.parentSpanContext?.spanId, msg.span.spanContext().spanId);
      assert.equal(s.kind, SpanKind.INTERNAL, `${s.name} is INTERNAL (the send spans under produce are the PRODUCER spans)`);
    }
    assert.equal(stages.at(-1)!.attributes['messaging.operation.type'], undefined);
  } finally {
    await provider.shutdown();
    context.disable();
  }
});

test('inProduceStages starts one produce stage per message, hands on its context, and ends them', async () => {
  const { exporter, tracer, provider } = setup();
  const a = startMessageSpan(tracer, source, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, offset: 1 });
  const b = startMessageSpan(tracer, source, { headers: {}, offset: 2 });
  const records = [
    { topic: 'results', trace: a.context },
    { topic: 'review', trace: a.context },
    { topic: 'results', trace: b.context },
    { topic: 'other' },
  ];
  const staged = await inProduceStages(tracer, records, async (rs) => rs);
  assert.deepEqual(staged.map((r) => r.topic), ['results', 'review', 'results', 'other']);
  assert.equal(staged[3]!.trace, undefined, 'a record without a message gets no stage');
  const produce = exporter.getFinishedSpans().filter((s) => s.name === 'produce');
  assert.equal(produce.length, 2, 'one stage per message, not per record');
  for (const [i, msg] of [a, b].entries()) {
    const stage = trace.getSpan(staged[i * 2]!.trace!)!;
    const done = produce.find((s) => s.spanContext().spanId === stage.spanContext().spanId)!;
    assert.equal(done.parentSpanContext?.spanId, msg.span.spanContext().spanId);
    assert.equal(done.kind, SpanKind.INTERNAL);
  }
  assert.equal(staged[0]!.trace, staged[1]!.trace, 'the records of one message share its stage');

  exporter.reset();
  await assert.rejects(inProduceStages(tracer, records, () => Promise.reject(new ClipnError('KAFKA_ERROR', 'send failed'))), /send failed/);
  const failed = exporter.getFinishedSpans().filter((s) => s.name === 'produce');
  assert.equal(failed.length, 2);
  for (const s of failed) assert.equal(s.attributes['error.type'], 'KAFKA_ERROR');
  await provider.shutdown();
});

test('inStage makes the stage span active, ends it, and marks it failed on error', async () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const { exporter, tracer, provider } = setup();
  try {
    const msg = startMessageSpan(tracer, source, { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }, offset: 5 });
    const seen = await inStage(tracer, 'decode', msg.context, async () => {
      await Promise.resolve();
      return trace.getActiveSpan()?.spanContext().spanId;
    });
    await assert.rejects(
      inStage(tracer, 'infer', msg.context, () => {
        throw new ClipnError('INFERENCE_FAILED', 'session run failed');
      }),
      (e: unknown) => e instanceof ClipnError && e.code === 'INFERENCE_FAILED',
    );
    msg.span.end();
    const decode = exporter.getFinishedSpans().find((s) => s.name === 'decode')!;
    assert.equal(seen, decode.spanContext().spanId, 'active inside fn');
    assert.equal(decode.status.code, SpanStatusCode.UNSET);
    const infer = exporter.getFinishedSpans().find((s) => s.name === 'infer')!;
    assert.equal(infer.ended, true);
    assert.equal(infer.status.code, SpanStatusCode.ERROR);
    assert.equal(infer.status.message, 'INFERENCE_FAILED: session run failed');
    assert.equal(infer.attributes['error.type'], 'INFERENCE_FAILED');
    assert.equal(infer.events[0]?.name, 'exception');
  } finally {
    await provider.shutdown();
    context.disable();
  }
});

test('failSpan names plain errors by their class and non-errors as Error', async () => {
  const { exporter, tracer, provider } = setup();
  const a = tracer.startSpan('a');
  failSpan(a, new TypeError('bad'));
  a.end();
  const b = tracer.startSpan('b');
  failSpan(b, 'a string');
  b.end();
  const [sa, sb] = exporter.getFinishedSpans();
  assert.equal(sa!.attributes['error.type'], 'TypeError');
  assert.equal(sa!.status.message, 'bad');
  assert.equal(sb!.attributes['error.type'], 'Error');
  assert.equal(sb!.status.message, 'a string');
  await provider.shutdown();
});
