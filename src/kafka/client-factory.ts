/**
 * The one place kafkajs clients are created: brokers, TLS, SASL and timeouts from config, and
 * kafkajs' own log lines forwarded to the product logger (never with credentials).
 */
import { Kafka, logLevel as KafkaLogLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import { ClipnError } from '../errors.js';

/** Connection options (config.kafka). */
export interface KafkaOptions {
  brokers: readonly string[];
  clientId: string;
  ssl: boolean;
  sasl: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string } | null;
  connectionTimeoutMs: number;
  requestTimeoutMs: number;
}

/** Where kafkajs log lines go. */
export type KafkaLogSink = (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: Record<string, unknown>) => void;

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

/** Creates the kafkajs client. */
export function createKafka(options: KafkaOptions, sink?: KafkaLogSink): Kafka {
  const config: KafkaConfig = {
    clientId: options.clientId,
    brokers: [...options.brokers],
    ssl: options.ssl,
    connectionTimeout: options.connectionTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    retry: { initialRetryTime: 200, retries: 8 },
    logLevel: sink ? KafkaLogLevel.WARN : KafkaLogLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      if (!sink) return;
      const { message, ...extra } = entry.log;
      sink(LEVELS[entry.level] ?? 'info', `kafka ${entry.namespace}: ${message}`, extra);
    },
  };
  if (options.sasl) config.sasl = { mechanism: options.sasl.mechanism, username: options.sasl.username, password: options.sasl.password } as SASLOptions;
  return new Kafka(config);
}

/** A kafkajs error as a ClipnError, keeping its retriable flag. */
export function kafkaError(error: unknown, what: string): ClipnError {
  const e = error as { message?: string; retriable?: boolean; name?: string };
  return new ClipnError('KAFKA_ERROR', `${what}: ${e.name ?? 'Error'}: ${e.message ?? String(error)}`, { cause: error, retriable: e.retriable ?? true });
}
