/**
 * The one place kafkajs clients are created: brokers, TLS, SASL, timeouts and retries from the
 * options, kafkajs' own log lines forwarded to the product logger (never with credentials), and
 * producers whose sends are checked for a lost partition (confirmed-sends.ts).
 */
import { createRequire } from 'node:module';
import { type Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { ConfirmingKafka } from './confirmed-sends.js';
import { resolveKafkaOptions, type KafkaLogLevelName, type KafkaOptionsInput } from './options.js';

/** Levels of forwarded log lines. */
export type KafkaSinkLevel = 'error' | 'warn' | 'info' | 'debug';

/** Where kafkajs log lines go. */
export type KafkaLogSink = (level: KafkaSinkLevel, message: string, extra: Record<string, unknown>) => void;

const TO_KAFKAJS: Record<KafkaLogLevelName, KafkaLogLevel> = {
  nothing: KafkaLogLevel.NOTHING,
  error: KafkaLogLevel.ERROR,
  warn: KafkaLogLevel.WARN,
  info: KafkaLogLevel.INFO,
  debug: KafkaLogLevel.DEBUG,
};

const FROM_KAFKAJS: Record<number, KafkaSinkLevel> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

// kafkajs lines that say nothing is wrong: expected retries while a broker starts (its group
// coordinator and offsets topic come up a few seconds after it answers), and notices printed at
// every start. They go to debug so warn and error mean something.
const EXPECTED: readonly RegExp[] = [
  /coordinator is not available/i,
  /coordinator is loading/i,
  /not coordinator/i,
  /Limiting retries for the idempotent producer/,
  /switched default partitioner/,
];

const requireModule = createRequire(import.meta.url);

/**
 * Requires kafkajs (a cached no-op after the first time). Instrumentation such as
 * @opentelemetry/instrumentation-kafkajs patches kafkajs through require-in-the-middle, which
 * sees `require` calls only, never ESM imports; its patch of `Kafka.prototype` then applies to
 * the class imported here too (the same object). Done at each client creation, so telemetry
 * started after this module was imported still covers the clients made from then on.
 */
function requireKafkajs(): void {
  requireModule('kafkajs');
}

const REDACTED = '[redacted]';
const SECRET_KEY = /pass(word)?|secret|sasl|credential|token/i;

function scrub(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return secrets.reduce((s, secret) => s.split(secret).join(REDACTED), value);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets, depth + 1));
  if (value instanceof Error) return scrub({ name: value.name, message: value.message }, secrets, depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? REDACTED : scrub(v, secrets, depth + 1);
  return out;
}

/**
 * One kafkajs log entry as a sink call: level, "kafka <namespace>: <message>" and the other
 * fields, with every occurrence of a secret and every credential-like field replaced.
 */
export function toLogLine(entry: LogEntry, secrets: readonly string[]): { level: KafkaSinkLevel; message: string; extra: Record<string, unknown> } {
  const present = secrets.filter((s) => s.length > 0);
  const { message, ...extra } = entry.log;
  const text = `${message} ${typeof extra.error === 'string' ? extra.error : ''}`;
  return {
    level: EXPECTED.some((p) => p.test(text)) ? 'debug' : (FROM_KAFKAJS[entry.level] ?? 'info'),
    message: scrub(`kafka${entry.namespace ? ` ${entry.namespace}` : ''}: ${message}`, present, 0) as string,
    extra: scrub(extra, present, 0) as Record<string, unknown>,
  };
}

/**
 * Creates the kafkajs client. Options are validated and defaulted by {@link resolveKafkaOptions}
 * (throws ClipnError CONFIG_INVALID). Without a sink kafkajs logs nothing. A send of its producers
 * fails (retriable KAFKA_ERROR) rather than resolve when a partition written to went unacknowledged.
 */
export function createKafka(input: KafkaOptionsInput, sink?: KafkaLogSink): Kafka {
  const options = resolveKafkaOptions(input);
  const secrets = options.sasl ? [options.sasl.password] : [];
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.ssl,
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    retry: { retries: options.retry.retries, initialRetryTime: options.retry.initialRetryTimeMs, maxRetryTime: options.retry.maxRetryTimeMs },
    logLevel: sink ? TO_KAFKAJS[options.logLevel] : KafkaLogLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!sink) return;
      const line = toLogLine(entry, secrets);
      sink(line.level, line.message, line.extra);
    },
  };
  if (options.sasl) config.sasl = { ...options.sasl } as SASLOptions;
  requireKafkajs();
  return new ConfirmingKafka(config);
}

/** A logger with pino's call shape: fields first, then the message. */
export type FieldLogger = Record<KafkaSinkLevel, (fields: Record<string, unknown>, message: string) => void>;

/** A sink that writes kafkajs' lines to `logger` at their level, their fields under `kafka`. */
export function kafkaLogSink(logger: FieldLogger): KafkaLogSink {
  return (level, message, extra) => logger[level]({ kafka: extra }, message);
}
