import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { ClipnError } from '../../src/errors.js';
import { HealthChecks, startHttpServer } from '../../src/telemetry/health.js';
import { otlpUrl, serviceNameFor, startTelemetry } from '../../src/telemetry/sdk.js';
import { ROOT } from '../helpers/clipn-cli.js';

const run = promisify(execFile);
const CHILD = fileURLToPath(new URL('./fixtures/sdk-child.ts', import.meta.url));

/** Starts the SDK in a child process with exactly `env` (plus PATH) and returns what it printed. */
async function child(env: Record<string, string>): Promise<{ exported: number; serviceName: string | null }> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', CHILD], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { exported: number; serviceName: string | null };
}

/** A stand-in OTLP/HTTP collector that records each request's path and body. */
async function collector(): Promise<{ url: string; requests: Array<{ path: string; body: string }>; close(): Promise<void> }> {
  const requests: Array<{ path: string; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const isError = (code: string, pattern: RegExp) => (e: unknown) => e instanceof ClipnError && e.code === code && pattern.test(e.message);

test('spans reach the given exporter with the configured service name; /metrics shows a counter moving', async () => {
  const memory = new InMemorySpanExporter();
  const telemetry = startTelemetry({ serviceName: 'clipn-test', traceExporter: memory, resourceAttributes: { 'deployment.environment.name': 'test' }, env: {} });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks(), metricsHandler: telemetry.metricsHandler });
  try {
    const span = telemetry.tracer.startSpan('work');
    // The SDK registered a context manager: the span is active inside context.with.
    context.with(trace.setSpan(context.active(), span), () => assert.equal(trace.getActiveSpan(), span));
    span.end();
    const [done] = memory.getFinishedSpans();
    assert.equal(done!.name, 'work');
    assert.equal(done!.resource.attributes['service.name'], 'clipn-test');
    assert.equal(done!.resource.attributes['deployment.environment.name'], 'test');

    const counter = telemetry.meter.createCounter('clipn.test.events');
    counter.add(4, { kind: 'a' });
    const scrape = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith('clipn_test_events_total') && l.includes('kind="a"'));
      return line === undefined ? NaN : Number(line.split(' ').pop());
    };
    assert.equal(await scrape(), 4);
    counter.add(1, { kind: 'a' });
    assert.equal(await scrape(), 5);
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
});

test('OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, override the configured name', async () => {
  assert.equal(serviceNameFor('cfg', {}), 'cfg');
  assert.equal(serviceNameFor('cfg', { OTEL_SERVICE_NAME: 'env-name' }), 'env-name');
  assert.equal(serviceNameFor('cfg', { OTEL_RESOURCE_ATTRIBUTES: 'team=x,service.name=attr%20name' }), 'attr name');
  assert.equal(serviceNameFor('cfg', { OTEL_SERVICE_NAME: 'env-name', OTEL_RESOURCE_ATTRIBUTES: 'service.name=attr' }), 'env-name');
  assert.equal(serviceNameFor('cfg', { OTEL_SERVICE_NAME: '  ' }), 'cfg');

  const memory = new InMemorySpanExporter();
  const telemetry = startTelemetry({ serviceName: 'cfg', traceExporter: memory, env: { OTEL_SERVICE_NAME: 'from-env' } });
  try {
    telemetry.tracer.startSpan('x').end();
    assert.equal(memory.getFinishedSpans()[0]!.resource.attributes['service.name'], 'from-env');
  } finally {
    await telemetry.shutdown();
  }
});

test('the real process environment: OTEL_TRACES_SAMPLER(_ARG) pick the sampler, OTEL_SERVICE_NAME the name', async () => {
  const [plain, off, ratioZero, ratioOne, named] = await Promise.all([
    child({}),
    child({ OTEL_TRACES_SAMPLER: 'always_off' }),
    child({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
    child({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1' }),
    child({ OTEL_SERVICE_NAME: 'named-by-env' }),
  ]);
  assert.deepEqual(plain, { exported: 50, serviceName: 'configured-name' });
  assert.equal(off.exported, 0);
  assert.equal(ratioZero.exported, 0);
  assert.equal(ratioOne.exported, 50);
  assert.equal(named.serviceName, 'named-by-env');
});

test('with an OTLP endpoint, shutdown() flushes traces and metrics to the collector', async () => {
  const otlp = await collector();
  try {
    const telemetry = startTelemetry({ serviceName: 'clipn-otlp', otlpEndpoint: `${otlp.url}/`, env: {} });
    const span = telemetry.tracer.startSpan('exported');
    const traceId = span.spanContext().traceId;
    span.end();
    telemetry.meter.createCounter('clipn.test.flushed').add(1);
    assert.equal(otlp.requests.length, 0, 'batched, not sent yet');
    await telemetry.shutdown();
    const traces = otlp.requests.filter((r) => r.path === '/v1/traces');
    const metrics = otlp.requests.filter((r) => r.path === '/v1/metrics');
    assert.equal(traces.length, 1);
    assert.ok(traces[0]!.body.includes(traceId), 'the span went out');
    assert.ok(traces[0]!.body.includes('clipn-otlp'));
    assert.ok(metrics.some((r) => r.body.includes('clipn.test.flushed')), 'the counter went out');
  } finally {
    await otlp.close();
  }
});

test('OTEL_EXPORTER_OTLP_ENDPOINT alone enables OTLP; OTEL_TRACES_EXPORTER=none turns env traces off', async () => {
  const otlp = await collector();
  try {
    const a = startTelemetry({ serviceName: 'env-otlp', env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } });
    a.tracer.startSpan('via-env').end();
    await a.shutdown();
    assert.equal(otlp.requests.filter((r) => r.path === '/v1/traces').length, 1);

    otlp.requests.length = 0;
    const b = startTelemetry({ serviceName: 'env-otlp', env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'none' } });
    const span = b.tracer.startSpan('recorded-not-sent');
    assert.equal(span.isRecording(), true, 'spans still get ids for logs and headers');
    span.end();
    await b.shutdown();
    assert.deepEqual(otlp.requests, []);
  } finally {
    await otlp.close();
  }
  assert.equal(otlpUrl('traces', null, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom' }), 'http://c:4318/custom');
  assert.equal(otlpUrl('metrics', null, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/' }), 'http://c:4318/v1/metrics');
  assert.equal(otlpUrl('traces', 'http://cfg:4318', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://env:4318' }), 'http://cfg:4318/v1/traces');
  assert.equal(otlpUrl('traces', null, {}), null);
});

test('one telemetry at a time: a second start is refused until the first is shut down', async () => {
  const first = startTelemetry({ serviceName: 'one', env: {} });
  try {
    assert.throws(() => startTelemetry({ serviceName: 'two', env: {} }), isError('INTERNAL', /already registered/));
  } finally {
    await first.shutdown();
    await first.shutdown(); // idempotent
  }
  const memory = new InMemorySpanExporter();
  const again = startTelemetry({ serviceName: 'three', traceExporter: memory, env: {} });
  again.tracer.startSpan('after-restart').end();
  assert.equal(memory.getFinishedSpans()[0]!.resource.attributes['service.name'], 'three');
  await again.shutdown();
});

test('bad options are refused with CONFIG_INVALID; prometheus: false serves no metrics', async () => {
  assert.throws(() => startTelemetry({ serviceName: '', env: {} }), isError('CONFIG_INVALID', /telemetry\.serviceName/));
  assert.throws(() => startTelemetry({ serviceName: 's', otlpEndpoint: 'collector:4318', env: {} }), isError('CONFIG_INVALID', /telemetry\.otlpEndpoint.*"collector:4318"/));
  assert.throws(() => startTelemetry({ serviceName: 's', otlpEndpoint: 'ftp://c', env: {} }), isError('CONFIG_INVALID', /http\(s\)/));
  assert.throws(() => startTelemetry({ serviceName: 's', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' } }), isError('CONFIG_INVALID', /OTEL_EXPORTER_OTLP_ENDPOINT/));

  const telemetry = startTelemetry({ serviceName: 's', prometheus: false, env: {} });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks(), metricsHandler: telemetry.metricsHandler });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /disabled/);
  } finally {
    await server.close();
    await telemetry.shutdown();
  }
});
