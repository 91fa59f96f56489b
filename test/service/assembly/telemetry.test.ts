import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metrics, trace } from '@opentelemetry/api';
import { resolveTelemetry, serviceTelemetry } from '../../../src/service/assembly/telemetry.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import type { Telemetry } from '../../../src/telemetry/types.js';

test('serviceTelemetry takes what startTelemetry started, the product metrics on its meter', () => {
  const meter = metrics.getMeter('t');
  const otel = { tracer: trace.getTracer('t'), meter, metricsHandler: () => undefined, shutdown: async () => undefined } as unknown as Telemetry;
  const t = serviceTelemetry(otel);
  assert.equal(t.tracer, otel.tracer);
  assert.equal(t.meter, meter);
  assert.equal(t.metricsHandler, otel.metricsHandler);
  assert.ok(t.metrics instanceof Metrics);
});

test('resolveTelemetry keeps what is given and fills the gaps with no-ops; nothing given: no scrape handler', () => {
  const given = { tracer: trace.getTracer('given'), metrics: new Metrics(metrics.getMeter('given')) };
  const t = resolveTelemetry(given, 'scope');
  assert.equal(t.tracer, given.tracer);
  assert.equal(t.metrics, given.metrics);
  assert.ok(t.meter, 'a meter for the service to make its own instruments on');
  const none = resolveTelemetry(undefined, 'scope');
  assert.ok(none.metrics instanceof Metrics);
  assert.equal(none.metricsHandler, undefined);
});
