/** W3C trace context across Kafka: read from input headers, written into every produced record. */
import { context, propagation, trace, type Context, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';

const getter: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const v = carrier[key];
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined || first === null ? undefined : Buffer.isBuffer(first) ? first.toString('utf8') : String(first);
  },
};

const setter: TextMapSetter<Record<string, string | Buffer>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

/** The producer's context from a consumed message's headers (empty context when none). */
export function extractContext(headers: IHeaders | undefined): Context {
  return propagation.extract(context.active(), headers ?? {}, getter);
}

/** Writes `span`'s context (traceparent, tracestate) into outgoing headers. */
export function injectSpan(span: Span, headers: Record<string, string | Buffer>): Record<string, string | Buffer> {
  propagation.inject(trace.setSpan(context.active(), span), headers, setter);
  return headers;
}
