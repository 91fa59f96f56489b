/** Public types of the telemetry layer: logs, traces, metrics and the probe/scrape endpoint. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter, Tracer } from '@opentelemetry/api';

export type { Logger } from 'pino';

/** Log levels, lowest first; `silent` writes nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Where log lines go: anything with a `write(line)` (stdout, a file stream, a test buffer). */
export interface LineSink {
  write(line: string): unknown;
}

/** Answers a Prometheus scrape (text exposition format). */
export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** What {@link startTelemetry} returns: the product's tracer and meter, the scrape handler, shutdown. */
export interface Telemetry {
  /** Tracer of the product (scope `clipn-sidecar`). */
  readonly tracer: Tracer;
  /** Meter of the product; hand it to `new Metrics(meter)`. */
  readonly meter: Meter;
  /** Serves the Prometheus text format from the SDK's Prometheus reader. */
  readonly metricsHandler: MetricsHandler;
  /** Flushes and stops every exporter, then unregisters the OTel globals; idempotent. */
  shutdown(): Promise<void>;
}

/** The running probe/scrape server. */
export interface HttpServer {
  /** The port actually bound (an ephemeral one when 0 was asked for). */
  readonly port: number;
  /** Stops accepting, drops idle keep-alive connections, resolves once closed; idempotent. */
  close(): Promise<void>;
}

/** The handle of one health check (readiness or liveness). */
export interface HealthCheck {
  /** The check passes. */
  ready(): void;
  /** The check fails, with a reason shown by /readyz or /healthz. */
  notReady(reason: string): void;
}

/** The state of every check, as /readyz and /healthz report it. */
export interface HealthReport {
  /** True when every registered check passes (also when none is registered). */
  ready: boolean;
  /** Failing checks, name -> reason. */
  failing: Record<string, string>;
  /** Names of the passing checks. */
  passing: string[];
}

/** The processing stages that get a span and a latency sample per image. */
export const STAGES = ['resolve', 'decode', 'infer', 'score', 'produce'] as const;

/** One of {@link STAGES}. */
export type Stage = (typeof STAGES)[number];

/** What became of a consumed image. */
export type Outcome = 'tagged' | 'reviewed' | 'dead_lettered';

/** Side-channel updates the sidecar applies: label sets and model releases. */
export type ReleaseKind = 'label_set' | 'model';

/** Consumer lag of one partition, in messages. */
export interface PartitionLag {
  topic: string;
  partition: number;
  lag: number;
}

/** Returns the current lag of every assigned partition; called at each metric collection. */
export type LagProvider = () => Iterable<PartitionLag>;

/** Kafka message headers as kafkajs hands them over (values are Buffers) or takes them (strings). */
export type KafkaHeaders = Record<string, Buffer | string | Array<Buffer | string> | undefined>;

/** The parts of a consumed Kafka message the tracing helpers read. */
export interface ConsumedMessage {
  headers?: KafkaHeaders | undefined;
  offset: string | number;
  key?: Buffer | string | null | undefined;
}

/** Where consumed messages come from. */
export interface ConsumerSource {
  topic: string;
  partition: number;
  /** The consumer group id. */
  groupId: string;
}
