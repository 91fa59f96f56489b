/**
 * JSON-lines logs (pino). Configured secrets (the SASL password) and credentials inside URLs are
 * scrubbed from every line before it is written, whatever field they hide in.
 */
import { trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  serviceName: string;
  /** Exact strings that must never be written. */
  secrets?: readonly string[];
  /** Where lines go (default: stdout). */
  destination?: { write(line: string): void };
}

const URL_CREDENTIALS = /(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@"]+@/gi;

export function scrub(line: string, secrets: readonly string[]): string {
  let out = line.replace(URL_CREDENTIALS, '$1[redacted]@');
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[redacted]');
  return out;
}

export function createLogger(options: LoggerOptions): Logger {
  const secrets = (options.secrets ?? []).filter((s) => s.length > 0);
  const target = options.destination ?? process.stdout;
  const stream = { write: (line: string) => void target.write(scrub(line, secrets)) };
  return pino(
    {
      level: options.level,
      base: { service: options.serviceName },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Every line written inside a span carries its ids, so logs and traces join up.
      mixin: () => {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const { traceId, spanId } = span.spanContext();
        return { trace_id: traceId, span_id: spanId };
      },
      redact: { paths: ['*.password', '*.sasl.password', 'password', '*.secret', '*.token', 'headers.authorization'], censor: '[redacted]' },
    },
    stream,
  );
}
