/**
 * W3C trace context across Kafka, and the spans of the processor: one `process <topic>` span per
 * message (child of its producer's context, so the input's trace continues), one per stage
 * inside it. The kafkajs client spans (`poll`, `send`, their per-message `process`) come from
 * @opentelemetry/instrumentation-kafkajs (kafka-instrumentation.ts): its `poll <topic>` span
 * covers each consumed batch, so there is no batch span of ours; its per-message `process` spans
 * hang off `poll` (linking the producer) while ours continue the producer's trace and parent the
 * stages; and its `send <topic>` spans are children of our `produce` stage.
 */
import { context, isSpanContextValid, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span, type TextMapGetter, type TextMapSetter, type TimeInput, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { ClipnError } from '../errors.js';
import * as semconv from './semconv.js';
import type { ConsumedMessage, ConsumerSource, KafkaHeaders, Stage } from './types.js';

// Kafka headers always carry W3C trace context, whatever OTEL_PROPAGATORS says for HTTP.
const W3C = new W3CTraceContextPropagator();

function text(v: Buffer | string): string {
  return typeof v === 'string' ? v : v.toString('utf8');
}

/** Reads kafkajs headers: Buffer or string values, possibly repeated; names matched exactly, then case-insensitively. */
const headerGetter: TextMapGetter<KafkaHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    let v = carrier[key];
    if (v === undefined) {
      const other = Object.keys(carrier).find((k) => k.toLowerCase() === key);
      if (other !== undefined) v = carrier[other];
    }
    if (v === undefined || v === null) return undefined;
    return Array.isArray(v) ? v.map(text) : text(v);
  },
};

const headerSetter: TextMapSetter<KafkaHeaders> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/**
 * The producer's context from a consumed message's headers (traceparent, tracestate), on top
 * of `base` (default: the active context, returned unchanged when there is none or it is malformed).
 */
export function extractContext(headers: KafkaHeaders | undefined | null, base: Context = context.active()): Context {
  return W3C.extract(base, headers ?? {}, headerGetter);
}

/** Writes the span context of `ctx` into `headers` as string traceparent/tracestate; returns `headers`. */
export function injectContext<H extends KafkaHeaders>(ctx: Context, headers: H): H {
  W3C.inject(ctx, headers, headerSetter);
  return headers;
}

/** Writes `span`'s context into `headers`; returns `headers`. */
export function injectSpan<H extends KafkaHeaders>(span: Span, headers: H): H {
  return injectContext(trace.setSpan(ROOT_CONTEXT, span), headers);
}

/** Attributes every span of a consumed partition carries. */
export function consumerAttributes(source: ConsumerSource): Attributes {
  return {
    [semconv.ATTR_MESSAGING_SYSTEM_NAME]: semconv.MESSAGING_SYSTEM_VALUE_KAFKA,
    [semconv.ATTR_MESSAGING_OPERATION_TYPE]: semconv.MESSAGING_OPERATION_TYPE_VALUE_PROCESS,
    [semconv.ATTR_MESSAGING_OPERATION_NAME]: 'process',
    [semconv.ATTR_MESSAGING_DESTINATION_NAME]: source.topic,
    [semconv.ATTR_MESSAGING_DESTINATION_PARTITION_ID]: String(source.partition),
    [semconv.ATTR_MESSAGING_CONSUMER_GROUP_NAME]: source.groupId,
  };
}

function offsetOf(message: ConsumedMessage): number | string {
  const n = Number(message.offset);
  return Number.isSafeInteger(n) ? n : String(message.offset);
}

/** A started message span and the context to run its stages in. */
export interface MessageSpan {
  span: Span;
  /** The producer's context with `span` set: parent of the stage spans, source for injection. */
  context: Context;
}

/**
 * Starts the span of one consumed message: `process <topic>`, kind CONSUMER, a child of the
 * producer's context from its headers (so it continues the input's trace), linked to the span
 * active where it starts (in eachBatch: the instrumentation's `poll <topic>` span).
 */
export function startMessageSpan(tracer: Tracer, source: ConsumerSource, message: ConsumedMessage, options: { startTime?: TimeInput } = {}): MessageSpan {
  const parent = extractContext(message.headers);
  const attributes: Attributes = { ...consumerAttributes(source), [semconv.ATTR_KAFKA_OFFSET]: offsetOf(message) };
  if (message.key !== undefined && message.key !== null) attributes[semconv.ATTR_KAFKA_MESSAGE_KEY] = text(message.key);
  const receive = trace.getSpanContext(context.active());
  const links: Link[] = receive && isSpanContextValid(receive) ? [{ context: receive }] : [];
  const span = tracer.startSpan(`process ${source.topic}`, { kind: SpanKind.CONSUMER, attributes, links, ...(options.startTime === undefined ? {} : { startTime: options.startTime }) }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Options of a stage span. */
export interface StageSpanOptions {
  startTime?: TimeInput;
  attributes?: Attributes;
}

/**
 * Starts the span of one stage (`resolve`, `decode`, `infer`, `score`, `produce`), kind INTERNAL,
 * as a child of `parent` (a message span or its context). The PRODUCER spans of a `produce` stage
 * are the instrumentation's `send <topic>` spans under it.
 */
export function startStageSpan(tracer: Tracer, stage: Stage, parent: Context | Span, options: StageSpanOptions = {}): Span {
  const ctx = isSpan(parent) ? trace.setSpan(context.active(), parent) : parent;
  const attributes: Attributes = { 'clipn.stage': stage, ...options.attributes };
  return tracer.startSpan(stage, { kind: SpanKind.INTERNAL, attributes, ...(options.startTime === undefined ? {} : { startTime: options.startTime }) }, ctx);
}

/**
 * Runs `fn` inside a new stage span (active while it runs), ends the span, and marks it failed
 * (status ERROR, error.type, the exception) when `fn` throws; the error is rethrown.
 */
export async function inStage<T>(tracer: Tracer, stage: Stage, parent: Context | Span, fn: (span: Span) => T | Promise<T>, options: StageSpanOptions = {}): Promise<T> {
  const span = startStageSpan(tracer, stage, parent, options);
  try {
    return await context.with(trace.setSpan(context.active(), span), () => fn(span));
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/** Something produced for a consumed message, with the context of its message span. */
export interface Traced {
  /** The message span's context; undefined for records made outside a message (none get a stage). */
  readonly trace?: Context | undefined;
}

/**
 * Runs `deliver` with a `produce` stage span per message: one per distinct `trace` among
 * `records` (the records of one message share theirs), a child of that message span. `deliver`
 * gets the records with `trace` set to their stage's context, the parent to give their send
 * spans (kafka-instrumentation.ts withSendParents). The stages end when `deliver` settles,
 * failed when it throws; the error is rethrown.
 */
export async function inProduceStages<R extends Traced, T>(tracer: Tracer, records: readonly R[], deliver: (staged: R[]) => Promise<T>): Promise<T> {
  const stages = new Map<Context, { span: Span; context: Context }>();
  const staged = records.map((r) => {
    if (r.trace === undefined) return r;
    let stage = stages.get(r.trace);
    if (stage === undefined) {
      const span = startStageSpan(tracer, 'produce', r.trace);
      stage = { span, context: trace.setSpan(r.trace, span) };
      stages.set(r.trace, stage);
    }
    return { ...r, trace: stage.context };
  });
  try {
    return await deliver(staged);
  } catch (error) {
    for (const { span } of stages.values()) failSpan(span, error);
    throw error;
  } finally {
    for (const { span } of stages.values()) span.end();
  }
}

/** Marks `span` failed: status ERROR, `error.type` (the ClipnError code, else the error's name), the exception. */
export function failSpan(span: Span, error: unknown): void {
  const type = error instanceof ClipnError ? error.code : error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  span.setAttribute(semconv.ATTR_ERROR_TYPE, type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof ClipnError ? `${error.code}: ${message}` : message });
  span.recordException(error instanceof Error ? error : message);
}

function isSpan(v: Context | Span): v is Span {
  return typeof (v as Span).spanContext === 'function';
}
