/**
 * OpenTelemetry through @opentelemetry/sdk-node's NodeSDK, so the standard OTEL_* variables
 * behave as in any Node service. How the pieces map (checked against sdk-node 0.301):
 * - Metrics: always a PrometheusExporter that opens no port (our /metrics serves it), plus an
 *   OTLP/HTTP reader when an endpoint is configured. Passing readers stops NodeSDK from reading
 *   OTEL_METRICS_EXPORTER, whose default would be OTLP to localhost.
 * - Traces: span processors are passed for the same reason (with none, NodeSDK defaults to OTLP
 *   to localhost:4318). OTLP/HTTP is added when telemetry.otlpEndpoint,
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set; an explicit
 *   OTEL_TRACES_EXPORTER (console, zipkin, otlp with its protocol) with no exporter of ours
 *   hands the choice to NodeSDK, which reads it (and OTEL_BSP_*) from process.env.
 *   With no exporter, spans are still recorded and dropped, so trace ids reach logs and
 *   outgoing headers.
 * - NodeSDK itself reads OTEL_TRACES_SAMPLER/_ARG (its TracerProvider sampler), OTEL_PROPAGATORS,
 *   OTEL_SDK_DISABLED and span limits; the resource detectors here read OTEL_RESOURCE_ATTRIBUTES.
 * - Instrumentations: kafkajs only (kafka-instrumentation.ts), for its client spans and messaging
 *   metrics; no auto-instrumentation of anything else.
 * - service.name: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES, else the
 *   configured name.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics, propagation, trace, context, ProxyTracerProvider, type MeterProvider, type TracerProvider } from '@opentelemetry/api';
import { getBooleanFromEnv } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceAttributesEnvDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { PeriodicExportingMetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, NoopSpanProcessor, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import { ClipnError } from '../errors.js';
import { kafkaInstrumentation, useSendParents } from './kafka-instrumentation.js';
import { checkOtlpEndpoint, checkTelemetryOptions, type TelemetryOptions } from './options.js';
import type { MetricsHandler, Telemetry } from './types.js';

/** Instrumentation scope of the product's tracer and meter. */
export const SCOPE = 'clipn-sidecar';

type Env = Readonly<Record<string, string | undefined>>;

function set(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

/** service.name: OTEL_SERVICE_NAME, else service.name in OTEL_RESOURCE_ATTRIBUTES, else `configured`. */
export function serviceNameFor(configured: string, env: Env): string {
  if (set(env.OTEL_SERVICE_NAME)) return env.OTEL_SERVICE_NAME.trim();
  const raw = /(?:^|,)\s*service\.name\s*=\s*([^,]*)/.exec(env.OTEL_RESOURCE_ATTRIBUTES ?? '')?.[1]?.trim();
  if (!raw) return configured;
  try {
    return decodeURIComponent(raw); // values are percent-encoded (W3C Baggage octets)
  } catch {
    return raw;
  }
}

/** The OTLP/HTTP URL for one signal: configured base + /v1/<signal>, else the OTEL_* variables. */
export function otlpUrl(signal: 'traces' | 'metrics', configured: string | null | undefined, env: Env): string | null {
  if (configured) return `${checkOtlpEndpoint('telemetry.otlpEndpoint', configured)}/v1/${signal}`;
  const specific = env[`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`];
  if (set(specific)) return checkOtlpEndpoint(`OTEL_EXPORTER_OTLP_${signal.toUpperCase()}_ENDPOINT`, specific.trim());
  if (set(env.OTEL_EXPORTER_OTLP_ENDPOINT)) return `${checkOtlpEndpoint('OTEL_EXPORTER_OTLP_ENDPOINT', env.OTEL_EXPORTER_OTLP_ENDPOINT.trim())}/v1/${signal}`;
  return null;
}

/** The span processors to give NodeSDK, or undefined to let it build them from OTEL_TRACES_EXPORTER. */
function spanProcessorsFor(options: TelemetryOptions, env: Env): SpanProcessor[] | undefined {
  const given: SpanProcessor[] = [...(options.spanProcessors ?? [])];
  if (options.traceExporter) given.push(new SimpleSpanProcessor({ exporter: options.traceExporter }));
  const exporterVar = env.OTEL_TRACES_EXPORTER?.trim();
  const url = exporterVar === 'none' && !options.otlpEndpoint ? null : otlpUrl('traces', options.otlpEndpoint, env);
  if (url) given.push(new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }) }));
  else if (set(exporterVar) && exporterVar !== 'none' && given.length === 0) return undefined;
  return given.length > 0 ? given : [new NoopSpanProcessor()];
}

function positive(v: string | undefined, fallback: number): number {
  const n = Number(v);
  return set(v) && Number.isFinite(n) && n > 0 ? n : fallback;
}

/** Prometheus (unless disabled), the given readers, and OTLP/HTTP metrics when an endpoint is set. */
function metricReadersFor(options: TelemetryOptions, env: Env, prometheus: PrometheusExporter | null): IMetricReader[] {
  const readers: IMetricReader[] = [...(prometheus ? [prometheus] : []), ...(options.metricReaders ?? [])];
  const url = env.OTEL_METRICS_EXPORTER?.trim() === 'none' && !options.otlpEndpoint ? null : otlpUrl('metrics', options.otlpEndpoint, env);
  if (url) {
    const interval = positive(env.OTEL_METRIC_EXPORT_INTERVAL, 60_000);
    const timeout = Math.min(positive(env.OTEL_METRIC_EXPORT_TIMEOUT, 30_000), interval);
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url }), exportIntervalMillis: interval, exportTimeoutMillis: timeout }));
  }
  return readers;
}

function globals(): { meters: MeterProvider; tracers: TracerProvider } {
  const tracers = trace.getTracerProvider();
  return { meters: metrics.getMeterProvider(), tracers: tracers instanceof ProxyTracerProvider ? tracers.getDelegate() : tracers };
}

const DISABLED_METRICS: MetricsHandler = (_req: IncomingMessage, res: ServerResponse) => {
  res.writeHead(404, { 'content-type': 'text/plain' });
  res.end('Prometheus metrics are disabled (startTelemetry prometheus: false)\n');
};

/**
 * Starts the OpenTelemetry SDK for this process and registers it as the OTel API's global
 * tracer, meter, propagator and context manager. One at a time per process: shut it down
 * before starting another.
 * @throws ClipnError CONFIG_INVALID for bad options or a malformed OTLP endpoint variable;
 *   INTERNAL when another SDK is already registered in this process.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  checkTelemetryOptions(options);
  const env: Env = options.env ?? process.env;
  const prometheus = options.prometheus === false ? null : new PrometheusExporter({ preventServerStart: true });
  const readers = metricReadersFor(options, env, prometheus);
  const spanProcessors = spanProcessorsFor(options, env);
  const before = globals();
  const kafka = kafkaInstrumentation();
  // No NodeSDK host/process detectors: process.command_args could carry secrets into every export.
  const sdk = new NodeSDK({
    serviceName: serviceNameFor(options.serviceName, env),
    resource: defaultResource().merge(resourceFromAttributes(options.resourceAttributes ?? {})),
    resourceDetectors: [resourceAttributesEnvDetector],
    metricReaders: readers,
    ...(spanProcessors ? { spanProcessors } : {}),
    logRecordProcessors: [],
    // kafkajs client spans and messaging metrics (kafka-instrumentation.ts).
    instrumentations: [kafka],
  });
  sdk.start();
  const after = globals();
  const disabled = getBooleanFromEnv('OTEL_SDK_DISABLED');
  // Over the global provider: the process's registered SDK, also when this one is refused below.
  if (!disabled) useSendParents(kafka, trace.getTracerProvider());
  if (!disabled && ((readers.length > 0 && after.meters === before.meters) || (spanProcessors?.length !== 0 && after.tracers === before.tracers))) {
    void sdk.shutdown();
    throw new ClipnError('INTERNAL', 'startTelemetry: expected to register the global OpenTelemetry providers, got providers already registered in this process (shut the running telemetry down first)');
  }
  let stopping: Promise<void> | null = null;
  return {
    tracer: trace.getTracer(SCOPE),
    meter: metrics.getMeter(SCOPE),
    metricsHandler: prometheus ? (req, res) => prometheus.getMetricsRequestHandler(req, res) : DISABLED_METRICS,
    shutdown: () => {
      if (stopping !== null) return stopping;
      // NodeSDK leaves instrumentations enabled: unpatch kafkajs until telemetry starts again.
      kafka.disable();
      stopping = sdk.shutdown().finally(() => {
        // Give the globals back, so a later startTelemetry in this process registers its own.
        trace.disable();
        metrics.disable();
        propagation.disable();
        context.disable();
      });
      return stopping;
    },
  };
}
