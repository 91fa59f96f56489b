import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trace, context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger, scrub } from '../../src/telemetry/logger.js';

function capture(secrets: string[]): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'debug', serviceName: 't', secrets, destination: { write: (l) => void lines.push(l) } }) };
}

test('a configured password never reaches a log line, wherever it hides', () => {
  const { lines, logger } = capture(['s3cr3t-pw']);
  logger.info({ kafka: { sasl: { password: 's3cr3t-pw' } } }, 'connecting');
  logger.warn({ detail: 'broker said: auth failed for s3cr3t-pw' }, 'failed with s3cr3t-pw');
  const text = lines.join('');
  assert.ok(!text.includes('s3cr3t-pw'));
  assert.match(text, /\[redacted\]/);
});

test('credentials inside URLs are scrubbed', () => {
  assert.equal(scrub('fetch https://bob:pw@registry:8081/subjects', []), 'fetch https://[redacted]@registry:8081/subjects');
  const { lines, logger } = capture([]);
  logger.info({ url: 'http://u:p@host/x' }, 'go');
  assert.ok(!lines.join('').includes('u:p@'));
});

test('lines are JSON with level names, and carry trace ids inside a span', () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const { lines, logger } = capture([]);
  const spanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
  context.with(trace.setSpan(context.active(), trace.wrapSpanContext(spanContext)), () => logger.info('inside'));
  logger.info('outside');
  const [inside, outside] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(inside!.level, 'info');
  assert.equal(inside!.trace_id, spanContext.traceId);
  assert.equal(inside!.span_id, spanContext.spanId);
  assert.equal(outside!.trace_id, undefined);
});
