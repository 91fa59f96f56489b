/**
 * Connection options of the Kafka client: one schema, which the configuration embeds as its
 * `kafka` connection settings and which {@link resolveKafkaOptions} applies to callers that build
 * options in code, so both accept and default the same values.
 */
import { z } from 'zod';
import { bool, duration, int, list, nullable, oneOf, text } from '../config/coerce.js';
import { ClipnError } from '../errors.js';

/** SASL mechanisms the client supports. */
export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
/** A SASL mechanism. */
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** kafkajs log levels, from quietest to loudest. */
export const KAFKA_LOG_LEVELS = ['nothing', 'error', 'warn', 'info', 'debug'] as const;
/** A kafkajs log level. */
export type KafkaLogLevelName = (typeof KAFKA_LOG_LEVELS)[number];

// host:port, where host is a name, an IPv4 address or a bracketed IPv6 address.
const BROKER = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;
const EXPECTED_BROKER = 'expected host:port (an IPv6 host in brackets) with a port from 1 to 65535';

const broker = () =>
  z.string({ error: EXPECTED_BROKER }).refine((b) => {
    const m = BROKER.exec(b);
    return m !== null && Number(m[1]) >= 1 && Number(m[1]) <= 65535;
  }, { error: EXPECTED_BROKER });

const retry = z
  .strictObject({
    retries: int(0).default(8).describe('Retries of a failed Kafka request before it fails.'),
    initialRetryTimeMs: duration(1).default(200).describe('Wait before the first retry of a Kafka request, in milliseconds (then exponential).'),
    maxRetryTimeMs: duration(1).default(30_000).describe('Longest wait between retries of a Kafka request, in milliseconds.'),
  })
  .refine((r) => r.maxRetryTimeMs >= r.initialRetryTimeMs, { error: (i) => `expected maxRetryTimeMs >= initialRetryTimeMs (${(i.input as { initialRetryTimeMs: number }).initialRetryTimeMs})`, path: ['maxRetryTimeMs'] })
  .prefault({});

const sasl = z.strictObject({
  mechanism: oneOf(SASL_MECHANISMS).describe('SASL mechanism.'),
  username: text().describe('SASL user name.'),
  password: text().describe('SASL password (redacted from logs; prefer the environment or a mounted secret).'),
});

/** The connection settings, each with its default and meaning; `config.kafka` spreads them. */
export const kafkaConnectionShape = {
  brokers: list(broker()).default(['127.0.0.1:9092']).describe('Bootstrap brokers, host:port (IPv6 hosts in brackets: [::1]:9092).'),
  clientId: text().default('clipn-sidecar').describe('Kafka client id.'),
  ssl: bool().default(false).describe('Connect with TLS.'),
  sasl: nullable(sasl).default(null).describe('SASL credentials: null, or {mechanism, username, password}.'),
  connectionTimeoutMs: duration(1).default(10_000).describe('Limit on connecting to a broker, in milliseconds.'),
  requestTimeoutMs: duration(1).default(30_000).describe('Limit on one Kafka request, in milliseconds.'),
  logLevel: oneOf(KAFKA_LOG_LEVELS).default('warn').describe('The loudest kafkajs log level forwarded to the log.'),
  retry,
};

// Not strict: config.kafka carries the consumer, topic and group settings too.
const connection = z.object(kafkaConnectionShape);

/** Validated, complete connection options. */
export type KafkaOptions = Readonly<z.output<typeof connection>>;
/** What callers pass: anything left out takes its default. */
export type KafkaOptionsInput = z.input<typeof connection>;
/** SASL credentials. */
export type KafkaSasl = z.output<typeof sasl>;
/** Retries of a failed request: exponential back-off from `initialRetryTimeMs` up to `maxRetryTimeMs`. */
export type KafkaRetry = z.output<typeof retry>;

const pathOf = (path: readonly PropertyKey[]): string => path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');

/**
 * Fills in the defaults and checks every field, with the rules `config.kafka` is loaded with.
 * @throws ClipnError CONFIG_INVALID naming the field, what was expected and what was got
 * (never the SASL password itself).
 */
export function resolveKafkaOptions(input: KafkaOptionsInput): KafkaOptions {
  const parsed = connection.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = `kafka.${pathOf(issue.path)}`;
    const got = issue.path.includes('password') ? '[redacted]' : issue.input === undefined ? 'nothing' : JSON.stringify(issue.input);
    const expected = issue.message.startsWith('expected') ? issue.message : `expected a valid value (${issue.message})`;
    throw new ClipnError('CONFIG_INVALID', `${field}: ${expected}, got ${got}`, { details: { field } });
  }
  const o = parsed.data;
  return Object.freeze({
    brokers: Object.freeze([...o.brokers]),
    clientId: o.clientId,
    ssl: o.ssl,
    sasl: o.sasl === null ? null : Object.freeze({ ...o.sasl }),
    connectionTimeoutMs: o.connectionTimeoutMs,
    requestTimeoutMs: o.requestTimeoutMs,
    logLevel: o.logLevel,
    retry: Object.freeze({ ...o.retry }),
  }) as KafkaOptions;
}
