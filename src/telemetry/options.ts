/** Options of the telemetry layer, their defaults, and the checks run once at start-up. */
import type { Attributes } from '@opentelemetry/api';
import type { IMetricReader } from '@opentelemetry/sdk-metrics';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import { ClipnError } from '../errors.js';
import type { HealthChecks } from './health.js';
import { LOG_LEVELS, type LineSink, type LogLevel, type MetricsHandler } from './types.js';

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  level: LogLevel | string;
  serviceName: string;
  /** Exact strings that must never be written (the SASL password, tokens): replaced by [redacted]. */
  secrets?: readonly string[];
  /** Where lines go (default: stdout). */
  destination?: LineSink;
}

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** service.name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) is set. */
  serviceName: string;
  /**
   * OTLP/HTTP base URL (e.g. http://collector:4318): traces go to /v1/traces and metrics to
   * /v1/metrics. Null or absent leaves OTLP to OTEL_EXPORTER_OTLP_(TRACES_|METRICS_)ENDPOINT.
   */
  otlpEndpoint?: string | null;
  /** Serve metrics to Prometheus through `metricsHandler` (default true). */
  prometheus?: boolean;
  /** Also export every span to this exporter as it ends (tests pass an InMemorySpanExporter). */
  traceExporter?: SpanExporter;
  /** Extra span processors, used as given. */
  spanProcessors?: SpanProcessor[];
  /** Extra metric readers (tests pass an in-memory reader). */
  metricReaders?: IMetricReader[];
  /** Resource attributes; OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME override them. */
  resourceAttributes?: Attributes;
  /**
   * Where this module reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES' service.name,
   * OTEL_EXPORTER_OTLP_*ENDPOINT, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and
   * OTEL_METRIC_EXPORT_INTERVAL/TIMEOUT (default: process.env). The SDK itself reads the rest
   * (OTEL_TRACES_SAMPLER(_ARG), OTEL_PROPAGATORS, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED,
   * span limits, exporter headers) from process.env.
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  host: string;
  /** 0 binds an ephemeral port (read it back from the result). */
  port: number;
  /** What /readyz reports: whether to send traffic (work) here. */
  readiness: HealthChecks;
  /** What /healthz reports: whether the process is alive and should not be restarted; none: always ok. */
  liveness?: HealthChecks | undefined;
  /** Serves GET /metrics; absent or undefined answers 404 there. */
  metricsHandler?: MetricsHandler | undefined;
}

function invalid(field: string, expected: string, got: unknown): ClipnError {
  return new ClipnError('CONFIG_INVALID', `${field}: expected ${expected}, got ${JSON.stringify(got)}`, { details: { field } });
}

function nonEmpty(field: string, value: unknown): void {
  if (typeof value !== 'string' || value.trim() === '') throw invalid(field, 'a non-empty string', value);
}

/** Checks logger options; returns the level as a {@link LogLevel}. */
export function checkLoggerOptions(o: LoggerOptions): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(o.level)) throw invalid('telemetry.logLevel', `one of ${LOG_LEVELS.join(', ')}`, o.level);
  nonEmpty('telemetry.serviceName', o.serviceName);
  for (const [i, s] of (o.secrets ?? []).entries()) if (typeof s !== 'string') throw invalid(`logger secrets[${i}]`, 'a string', s);
  return o.level as LogLevel;
}

/** Checks an OTLP base URL: http(s), no query or fragment; returns it without a trailing slash. */
export function checkOtlpEndpoint(field: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, 'an http(s) URL such as http://collector:4318', value);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.search !== '' || url.hash !== '') {
    throw invalid(field, 'an http(s) URL without query or fragment', value);
  }
  return value.replace(/\/+$/, '');
}

/** Checks telemetry options once, at start-up. */
export function checkTelemetryOptions(o: TelemetryOptions): void {
  nonEmpty('telemetry.serviceName', o.serviceName);
  if (o.otlpEndpoint !== undefined && o.otlpEndpoint !== null) checkOtlpEndpoint('telemetry.otlpEndpoint', o.otlpEndpoint);
}

/** Checks the HTTP server options once, at start-up. */
export function checkHttpServerOptions(o: HttpServerOptions): void {
  nonEmpty('telemetry.http.host', o.host);
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw invalid('telemetry.http.port', 'an integer in 0..65535', o.port);
}
