import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ClipnError } from '../../src/errors.js';
import { HealthChecks, startHttpServer } from '../../src/telemetry/health.js';

async function get(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) };
}

function counterValue(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? null : Number(line.split(' ').pop());
}

const isConfigInvalid = (pattern: RegExp) => (e: unknown) => e instanceof ClipnError && e.code === 'CONFIG_INVALID' && pattern.test(e.message);

test('/healthz answers while the process is alive, on an ephemeral port', async () => {
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks() });
  try {
    assert.ok(server.port > 0);
    const r = await get(server.port, '/healthz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok', passing: [] });
    assert.equal(r.headers['content-type'], 'application/json');
  } finally {
    await server.close();
  }
});

test('/healthz fails with the failing liveness checks and their reasons, and recovers', async () => {
  const liveness = new HealthChecks();
  const loop = liveness.register('event-loop');
  const consumer = liveness.register('consumer');
  loop.ready();
  consumer.ready();
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks(), liveness });
  try {
    assert.equal((await get(server.port, '/healthz')).status, 200);
    consumer.notReady('crashed 6 times in 300 s; not restarting');
    const r = await get(server.port, '/healthz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { status: 'unhealthy', failing: { consumer: 'crashed 6 times in 300 s; not restarting' }, passing: ['event-loop'] });
    consumer.ready();
    assert.equal((await get(server.port, '/healthz')).status, 200);
  } finally {
    await server.close();
  }
});

test('/readyz is 503 naming the failing checks until every check is ready, then 200', async () => {
  const readiness = new HealthChecks();
  const model = readiness.register('model', 'loading');
  const labels = readiness.register('label-set:default');
  const group = readiness.register('consumer-group', 'not joined');
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness });
  try {
    let r = await get(server.port, '/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body).failing, { model: 'loading', 'label-set:default': 'not ready yet', 'consumer-group': 'not joined' });

    model.ready();
    labels.ready();
    r = await get(server.port, '/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body), { status: 'not ready', failing: { 'consumer-group': 'not joined' }, passing: ['model', 'label-set:default'] });

    group.ready();
    r = await get(server.port, '/readyz');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), { status: 'ready', passing: ['model', 'label-set:default', 'consumer-group'] });

    // A check can fail again later (e.g. the consumer group rebalancing).
    group.notReady('rebalancing');
    r = await get(server.port, '/readyz');
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.body).failing, { 'consumer-group': 'rebalancing' });
  } finally {
    await server.close();
  }
});

test('/metrics serves the Prometheus text of the exporter, and the counter moves', async () => {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const counter = provider.getMeter('t').createCounter('clipn.test.things', { description: 'things' });
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks(), metricsHandler: (req, res) => exporter.getMetricsRequestHandler(req, res) });
  try {
    counter.add(2);
    const first = await get(server.port, '/metrics');
    assert.equal(first.status, 200);
    assert.match(first.body, /# TYPE clipn_test_things_total counter/);
    assert.equal(counterValue(first.body, 'clipn_test_things_total'), 2);
    counter.add(3);
    assert.equal(counterValue((await get(server.port, '/metrics')).body, 'clipn_test_things_total'), 5);
  } finally {
    await server.close();
    await provider.shutdown();
  }
});

test('unknown paths are 404, other methods 405, /metrics without a handler 404', async () => {
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks() });
  try {
    const missing = await get(server.port, '/nope');
    assert.equal(missing.status, 404);
    assert.match(JSON.parse(missing.body).error, /no route \/nope/);
    const post = await get(server.port, '/healthz', 'POST');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal((await get(server.port, '/healthz', 'HEAD')).status, 200);
    assert.equal((await get(server.port, '/healthz?verbose=1')).status, 200);
    const metrics = await get(server.port, '/metrics');
    assert.equal(metrics.status, 404);
    assert.match(JSON.parse(metrics.body).error, /no metrics handler/);
  } finally {
    await server.close();
  }
});

test('a throwing metrics handler answers 500 and the server keeps serving', async () => {
  const server = await startHttpServer({
    host: '127.0.0.1',
    port: 0,
    readiness: new HealthChecks(),
    metricsHandler: () => {
      throw new Error('collector exploded');
    },
  });
  try {
    const r = await get(server.port, '/metrics');
    assert.equal(r.status, 500);
    assert.match(r.body, /collector exploded/);
    assert.equal((await get(server.port, '/healthz')).status, 200);
  } finally {
    await server.close();
  }
});

test('close() resolves while a client holds a keep-alive connection, and twice', async () => {
  const server = await startHttpServer({ host: '127.0.0.1', port: 0, readiness: new HealthChecks() });
  const agentRes = await new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path: '/healthz', headers: { connection: 'keep-alive' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(agentRes, 200);
  const closed = server.close();
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 3000).unref());
  assert.notEqual(await Promise.race([closed.then(() => 'closed' as const), timeout]), 'timeout');
  await server.close();
  await assert.rejects(fetch(`http://127.0.0.1:${server.port}/healthz`));
});

test('bad host/port and a port in use are refused with CONFIG_INVALID', async () => {
  const readiness = new HealthChecks();
  await assert.rejects(startHttpServer({ host: '127.0.0.1', port: 70000, readiness }), isConfigInvalid(/telemetry\.http\.port.*0\.\.65535.*70000/));
  await assert.rejects(startHttpServer({ host: '127.0.0.1', port: 1.5, readiness }), isConfigInvalid(/telemetry\.http\.port/));
  await assert.rejects(startHttpServer({ host: '', port: 0, readiness }), isConfigInvalid(/telemetry\.http\.host/));
  const first = await startHttpServer({ host: '127.0.0.1', port: 0, readiness });
  try {
    await assert.rejects(startHttpServer({ host: '127.0.0.1', port: first.port, readiness }), isConfigInvalid(new RegExp(`127\\.0\\.0\\.1:${first.port}, got EADDRINUSE`)));
  } finally {
    await first.close();
  }
});

test('readiness check names must be new and non-empty', () => {
  const readiness = new HealthChecks();
  assert.equal(readiness.isReady(), true, 'no checks: ready');
  readiness.register('model');
  assert.equal(readiness.isReady(), false);
  assert.throws(() => readiness.register('model'), (e: unknown) => e instanceof ClipnError && e.code === 'INTERNAL' && /"model"/.test(e.message));
  assert.throws(() => readiness.register('  '), (e: unknown) => e instanceof ClipnError && e.code === 'INTERNAL');
});
