/**
 * Connection options of the Kafka client: their defaults and their validation, done once before
 * a client is created. `config.kafka` satisfies {@link KafkaOptionsInput} as it is.
 */
import { ClipnError } from '../errors.js';

/** SASL mechanisms the client supports. */
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
/** A SASL mechanism. */
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** kafkajs log levels, from quietest to loudest. */
export const KAFKA_LOG_LEVELS = ['nothing', 'error', 'warn', 'info', 'debug'] as const;
/** A kafkajs log level. */
export type KafkaLogLevelName = (typeof KAFKA_LOG_LEVELS)[number];

/** SASL credentials. */
export interface KafkaSasl {
  mechanism: SaslMechanism;
  username: string;
  password: string;
}

/** Retries of a failed request: exponential back-off from `initialRetryTimeMs` up to `maxRetryTimeMs`. */
export interface KafkaRetry {
  retries: number;
  initialRetryTimeMs: number;
  maxRetryTimeMs: number;
}

/** Validated, complete connection options. */
export interface KafkaOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly ssl: boolean;
  readonly sasl: Readonly<KafkaSasl> | null;
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retry: Readonly<KafkaRetry>;
  /** The loudest kafkajs level forwarded to the log sink. */
  readonly logLevel: KafkaLogLevelName;
}

/** What callers pass: brokers are required, everything else has a default. */
export interface KafkaOptionsInput {
  brokers: readonly string[];
  clientId?: string;
  ssl?: boolean;
  sasl?: KafkaSasl | null;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  retry?: Partial<KafkaRetry>;
  logLevel?: KafkaLogLevelName;
}

/** The defaults of every optional field. */
export const KAFKA_DEFAULTS = Object.freeze({
  clientId: 'clipn-sidecar',
  ssl: false,
  sasl: null,
  connectionTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  retry: Object.freeze({ retries: 8, initialRetryTimeMs: 200, maxRetryTimeMs: 30_000 }),
  logLevel: 'warn' as KafkaLogLevelName,
});

// host:port, where host is a name, an IPv4 address or a bracketed IPv6 address.
const BROKER = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

// `described`: a description to show instead of the value (for secrets).
function invalid(field: string, expected: string, got: unknown, described?: string): ClipnError {
  const shown = described ?? (typeof got === 'string' ? JSON.stringify(got) : String(got));
  return new ClipnError('CONFIG_INVALID', `kafka.${field}: expected ${expected}, got ${shown}`, { details: { field: `kafka.${field}` } });
}

function wholeNumber(field: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) throw invalid(field, `a whole number >= ${min}`, value);
  return value;
}

/**
 * Fills in the defaults and checks every field.
 * @throws ClipnError CONFIG_INVALID naming the field, what was expected and what was got
 * (never the SASL password itself).
 */
export function resolveKafkaOptions(input: KafkaOptionsInput): KafkaOptions {
  const brokers: unknown = input.brokers;
  if (!Array.isArray(brokers) || brokers.length === 0) throw invalid('brokers', 'at least one host:port', brokers);
  brokers.forEach((b, i) => {
    const m = typeof b === 'string' ? BROKER.exec(b) : null;
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw invalid(`brokers[${i}]`, 'host:port with a port from 1 to 65535', b);
  });
  const clientId = input.clientId ?? KAFKA_DEFAULTS.clientId;
  if (typeof clientId !== 'string' || clientId.length === 0) throw invalid('clientId', 'a non-empty string', clientId);
  const ssl = input.ssl ?? KAFKA_DEFAULTS.ssl;
  if (typeof ssl !== 'boolean') throw invalid('ssl', 'true or false', ssl);
  let sasl: Readonly<KafkaSasl> | null = null;
  if (input.sasl) {
    const { mechanism, username, password } = input.sasl;
    if (!SASL_MECHANISMS.includes(mechanism)) throw invalid('sasl.mechanism', `one of ${SASL_MECHANISMS.join(', ')}`, mechanism);
    if (typeof username !== 'string' || username.length === 0) throw invalid('sasl.username', 'a non-empty string', username);
    if (typeof password !== 'string' || password.length === 0) throw invalid('sasl.password', 'a non-empty string', null, typeof password === 'string' ? 'an empty string' : `a ${typeof password}`);
    sasl = Object.freeze({ mechanism, username, password });
  }
  const retry = { ...KAFKA_DEFAULTS.retry, ...(input.retry ?? {}) };
  wholeNumber('retry.retries', retry.retries, 0);
  wholeNumber('retry.initialRetryTimeMs', retry.initialRetryTimeMs, 1);
  wholeNumber('retry.maxRetryTimeMs', retry.maxRetryTimeMs, 1);
  if (retry.maxRetryTimeMs < retry.initialRetryTimeMs) {
    throw invalid('retry.maxRetryTimeMs', `a value >= retry.initialRetryTimeMs (${retry.initialRetryTimeMs})`, retry.maxRetryTimeMs);
  }
  const logLevel = input.logLevel ?? KAFKA_DEFAULTS.logLevel;
  if (!KAFKA_LOG_LEVELS.includes(logLevel)) throw invalid('logLevel', `one of ${KAFKA_LOG_LEVELS.join(', ')}`, logLevel);
  return Object.freeze({
    brokers: Object.freeze([...(brokers as string[])]),
    clientId,
    ssl,
    sasl,
    connectionTimeoutMs: wholeNumber('connectionTimeoutMs', input.connectionTimeoutMs ?? KAFKA_DEFAULTS.connectionTimeoutMs, 1),
    requestTimeoutMs: wholeNumber('requestTimeoutMs', input.requestTimeoutMs ?? KAFKA_DEFAULTS.requestTimeoutMs, 1),
    retry: Object.freeze(retry),
    logLevel,
  });
}
