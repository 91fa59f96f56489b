/**
 * OpenTelemetry through @opentelemetry/sdk-node: metrics always on a Prometheus reader served by
 * our own /metrics endpoint (plus OTLP when configured), traces to OTLP when configured. The
 * standard OTEL_* variables work as for any service: OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_*,
 * OTEL_TRACES_EXPORTER, OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, trace, type Meter, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';

export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (e.g. http://collector:4318); null leaves it to OTEL_* variables. */
  otlpEndpoint: string | null;
  /** Extra span processors (tests pass an in-memory exporter). */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers (tests). */
  metricReaders?: IMetricReader[];
  env?: Record<string, string | undefined>;
}

export interface Telemetry {
  readonly tracer: Tracer;
  readonly meter: Meter;
  /** Serves the Prometheus text format. */
  metricsHandler(req: IncomingMessage, res: ServerResponse): void;
  shutdown(): Promise<void>;
}

/** Keeps spans recording (trace ids in logs, propagation) when nothing exports them. */
const DISCARD: SpanProcessor = {
  onStart: () => undefined,
  onEnd: () => undefined,
  forceFlush: async () => undefined,
  shutdown: async () => undefined,
};

export function startTelemetry(options: TelemetryOptions): Telemetry {
  const env = options.env ?? process.env;
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus, ...(options.metricReaders ?? [])];
  const base = options.otlpEndpoint?.replace(/\/$/, '');
  if (base) readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${base}/v1/metrics` }), exportIntervalMillis: 15_000 }));
  const envTraces = Boolean(env.OTEL_TRACES_EXPORTER || env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  let spanProcessors: SpanProcessor[] | undefined = [...(options.spanProcessors ?? [])];
  if (base) spanProcessors.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${base}/v1/traces` }) }));
  else if (envTraces && spanProcessors.length === 0) spanProcessors = undefined; // the SDK reads OTEL_* itself
  if (spanProcessors && spanProcessors.length === 0) spanProcessors.push(DISCARD);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? options.serviceName,
    metricReaders: readers,
    ...(spanProcessors ? { spanProcessors } : {}),
    autoDetectResources: false,
    instrumentations: [],
  });
  sdk.start();
  return {
    tracer: trace.getTracer('clipn-sidecar'),
    meter: metrics.getMeter('clipn-sidecar'),
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    shutdown: () => sdk.shutdown(),
  };
}
