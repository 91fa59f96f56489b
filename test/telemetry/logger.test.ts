import { test } from 'node:test';
import assert from 'node:assert/strict';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ClipnError } from '../../src/errors.js';
import { componentLogger, createLogger, scrub } from '../../src/telemetry/logger.js';

function capture(secrets: string[] = [], level = 'debug'): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level, serviceName: 'svc', secrets, destination: { write: (l) => void lines.push(l) } }) };
}

const parse = (line: string): Record<string, unknown> => JSON.parse(line) as Record<string, unknown>;

test('a configured password never reaches a log line, wherever it hides', () => {
  const { lines, logger } = capture(['s3cr3t-pw']);
  logger.info({ kafka: { sasl: { password: 's3cr3t-pw' } } }, 'connecting');
  logger.warn({ detail: 'broker said: auth failed for s3cr3t-pw', list: ['x', 's3cr3t-pw'] }, 'failed with s3cr3t-pw');
  logger.error({ err: new Error('SASL s3cr3t-pw rejected') }, 'boom');
  assert.equal(lines.length, 3);
  for (const line of lines) assert.ok(!line.includes('s3cr3t-pw'), line);
  const warn = parse(lines[1]!);
  assert.equal(warn.msg, 'failed with [redacted]');
  assert.equal(warn.detail, 'broker said: auth failed for [redacted]');
  assert.deepEqual(warn.list, ['x', '[redacted]']);
  assert.match(String((parse(lines[2]!).err as { message: string }).message), /SASL \[redacted\] rejected/);
});

test('a secret with quotes or backslashes is caught in its JSON-escaped form too', () => {
  const secret = 'pa"ss\\word';
  const { lines, logger } = capture([secret]);
  logger.info({ note: `the password is ${secret}` }, `also ${secret}`);
  const line = lines[0]!;
  assert.ok(!line.includes(JSON.stringify(secret).slice(1, -1)), line);
  const obj = parse(line);
  assert.equal(obj.note, 'the password is [redacted]');
  assert.equal(obj.msg, 'also [redacted]');
});

test('when one secret contains another, the longer one is replaced whole', () => {
  assert.equal(scrub('x=abc123 y=abc', ['abc', 'abc123']), 'x=[redacted] y=[redacted]');
});

test('secret field paths are redacted even when no secret string is configured', () => {
  const { lines, logger } = capture([]);
  logger.info({ kafka: { sasl: { password: 'p1' } }, registry: { token: 't1', secret: 's1' }, http: { headers: { authorization: 'Bearer b1' } }, password: 'p2' }, 'cfg');
  const obj = parse(lines[0]!) as { kafka: { sasl: { password: string } }; registry: { token: string; secret: string }; http: { headers: { authorization: string } }; password: string };
  assert.equal(obj.kafka.sasl.password, '[redacted]');
  assert.equal(obj.registry.token, '[redacted]');
  assert.equal(obj.registry.secret, '[redacted]');
  assert.equal(obj.http.headers.authorization, '[redacted]');
  assert.equal(obj.password, '[redacted]');
});

test('URLs keep scheme, host and path only: no credentials, no query (a pre-signed URL\'s signature), no fragment', () => {
  assert.equal(scrub('fetch https://bob:pw@registry:8081/subjects', []), 'fetch https://registry:8081/subjects');
  assert.equal(scrub('clone https://ghp_token@github.example/x', []), 'clone https://github.example/x');
  assert.equal(scrub('see https://host/path?mail=a@b.example', []), 'see https://host/path');
  assert.equal(scrub('get https://bucket.example/a.png?X-Amz-Credential=AKIA&X-Amz-Signature=f00d#x failed', []), 'get https://bucket.example/a.png failed');
  assert.equal(scrub('plain https://host/path stays', []), 'plain https://host/path stays');
  const { lines, logger } = capture([]);
  logger.info({ url: 'http://u:p@host/x?sig=abc' }, 'go to sasl_ssl://admin:hunter2@broker:9093');
  const obj = parse(lines[0]!);
  assert.equal(obj.url, 'http://host/x');
  assert.equal(obj.msg, 'go to sasl_ssl://broker:9093');
  assert.ok(!lines[0]!.includes('hunter2') && !lines[0]!.includes('abc'));
});

test('component loggers keep the scrubbing and add the component', () => {
  const { lines, logger } = capture(['tok-42']);
  const child = componentLogger(logger, 'processor', { partition: 3 });
  child.info('token tok-42 used');
  const obj = parse(lines[0]!);
  assert.equal(obj.component, 'processor');
  assert.equal(obj.partition, 3);
  assert.equal(obj.service, 'svc');
  assert.equal(obj.msg, 'token [redacted] used');
});

test('the configured level filters lines', () => {
  const { lines, logger } = capture([], 'warn');
  logger.info('dropped');
  logger.debug('dropped');
  logger.warn('kept');
  logger.error('kept too');
  assert.deepEqual(lines.map((l) => parse(l).level), ['warn', 'error']);
});

test('an unknown level or an empty service name is refused at start-up', () => {
  const sink = { write: () => undefined };
  assert.throws(() => createLogger({ level: 'verbose', serviceName: 's', destination: sink }), (e: unknown) => e instanceof ClipnError && e.code === 'CONFIG_INVALID' && /telemetry\.logLevel.*"verbose"/.test(e.message));
  assert.throws(() => createLogger({ level: 'info', serviceName: ' ', destination: sink }), (e: unknown) => e instanceof ClipnError && e.code === 'CONFIG_INVALID' && /serviceName/.test(e.message));
});

test('lines are JSON with level names and ISO times, and carry trace ids inside a span', () => {
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const { lines, logger } = capture([]);
    const spanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 };
    context.with(trace.setSpan(context.active(), trace.wrapSpanContext(spanContext)), () => logger.info('inside'));
    logger.info('outside');
    const [inside, outside] = lines.map(parse);
    assert.equal(inside!.level, 'info');
    assert.ok(!Number.isNaN(Date.parse(String(inside!.time))));
    assert.equal(inside!.trace_id, spanContext.traceId);
    assert.equal(inside!.span_id, spanContext.spanId);
    assert.equal(outside!.trace_id, undefined);
    assert.equal(outside!.span_id, undefined);
  } finally {
    context.disable();
  }
});
