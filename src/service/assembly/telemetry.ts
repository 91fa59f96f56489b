/** The tracer, meter and product metrics a service runs with: from startTelemetry(), or no-ops. */
import { metrics as otelMetrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { Metrics } from '../../telemetry/metrics.js';
import type { Telemetry } from '../../telemetry/types.js';

/** Telemetry handed to a service; a missing meter is the OTel API's global one. */
export interface ServiceTelemetry {
  readonly tracer: Tracer;
  readonly meter?: Meter;
  readonly metrics: Metrics;
  /** Serves /metrics; without it the endpoint has no scrape. */
  readonly metricsHandler?: Telemetry['metricsHandler'];
}

/** Telemetry as a service uses it, every part present but the scrape handler. */
export type ResolvedTelemetry = Required<Omit<ServiceTelemetry, 'metricsHandler'>> & Pick<ServiceTelemetry, 'metricsHandler'>;

/** What startTelemetry() started, as a service takes it (the product metrics on its meter). */
export function serviceTelemetry(otel: Telemetry): ResolvedTelemetry {
  return { tracer: otel.tracer, meter: otel.meter, metrics: new Metrics(otel.meter), metricsHandler: otel.metricsHandler };
}

/** `given` with its gaps filled, or without it spans and metrics of `scope` that go nowhere (the API's no-op globals). */
export function resolveTelemetry(given: ServiceTelemetry | undefined, scope: string): ResolvedTelemetry {
  const meter = given?.meter ?? otelMetrics.getMeter(scope);
  return { tracer: given?.tracer ?? trace.getTracer(scope), meter, metrics: given?.metrics ?? new Metrics(meter), ...(given?.metricsHandler ? { metricsHandler: given.metricsHandler } : {}) };
}
