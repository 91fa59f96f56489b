/**
 * Telemetry: the OpenTelemetry SDK set-up (Prometheus /metrics, OTLP, OTEL_* variables), the
 * product's metrics, W3C trace context across Kafka with message/stage spans, kafkajs client spans, the
 * /healthz /readyz /metrics server, and JSON logs with trace ids and secret scrubbing.
 */
export { createLogger, componentLogger, scrub, REDACTED, REDACT_PATHS } from './logger.js';
export { startTelemetry, serviceNameFor, otlpUrl, SCOPE } from './sdk.js';
export { Metrics, LATENCY_BUCKETS_MS, BATCH_SIZE_BUCKETS } from './metrics.js';
export { HealthChecks, startHttpServer } from './health.js';
export {
  extractContext,
  injectContext,
  injectSpan,
  consumerAttributes,
  startMessageSpan,
  startStageSpan,
  inStage,
  inProduceStages,
  failSpan,
  type MessageSpan,
  type StageSpanOptions,
  type Traced,
} from './tracing.js';
export { withSendParents } from './kafka-instrumentation.js';
export * as semconv from './semconv.js';
export { checkLoggerOptions, checkTelemetryOptions, checkHttpServerOptions, checkOtlpEndpoint, type LoggerOptions, type TelemetryOptions, type HttpServerOptions } from './options.js';
export {
  LOG_LEVELS,
  STAGES,
  type Logger,
  type LogLevel,
  type LineSink,
  type MetricsHandler,
  type Telemetry,
  type HttpServer,
  type HealthCheck,
  type HealthReport,
  type Stage,
  type Outcome,
  type ReleaseKind,
  type PartitionLag,
  type LagProvider,
  type KafkaHeaders,
  type ConsumedMessage,
  type ConsumerSource,
} from './types.js';
