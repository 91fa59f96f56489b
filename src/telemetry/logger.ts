/**
 * JSON-lines logs (pino). Known secret fields are redacted by path; on top of that every
 * finished line is scrubbed of the configured secret strings and every URL in it is cut to
 * scheme, host and path (no userinfo, query or fragment: a pre-signed URL's query is its
 * credential), whatever field (message, error text, nested detail) they hide in.
 */
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { pino, type Bindings, type Logger } from 'pino';
import { checkLoggerOptions, type LoggerOptions } from './options.js';
import { redactUris } from './redact-uri.js';

export type { Logger } from 'pino';
export type { LoggerOptions } from './options.js';

/** The replacement for anything secret. */
export const REDACTED = '[redacted]';

/** Field paths whose values are always redacted. */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'sasl.password',
  '*.sasl.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'headers.authorization',
  '*.headers.authorization',
];

// scheme://user[:password]@ -> scheme://[redacted]@ ; the user part alone is often a token.
// Underscores are allowed in the scheme for Kafka listener URLs (SASL_SSL://).
const URL_CREDENTIALS = /(\b[a-z][a-z0-9+._-]*:\/\/)[^\s/?#@"'<>]+@/gi;

/** The forms a secret takes in a JSON line: as is, and JSON-escaped when it has quotes or backslashes. */
function secretForms(secrets: readonly string[]): string[] {
  const forms = new Set<string>();
  for (const s of secrets) {
    if (s.length === 0) continue;
    forms.add(s);
    forms.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret that contains another is replaced whole.
  return [...forms].sort((a, b) => b.length - a.length);
}

function scrubForms(line: string, forms: readonly string[]): string {
  let out = redactUris(line).replace(URL_CREDENTIALS, `$1${REDACTED}@`);
  for (const form of forms) out = out.split(form).join(REDACTED);
  return out;
}

/** Replaces URL credentials and every occurrence of each secret in `line` with [redacted]. */
export function scrub(line: string, secrets: readonly string[]): string {
  return scrubForms(line, secretForms(secrets));
}

/**
 * A pino logger writing one JSON object per line with `level` (name), `time` (ISO), `service`
 * and, on lines written inside an active span, `trace_id` and `span_id`.
 * @throws ClipnError CONFIG_INVALID for an unknown level or an empty service name.
 */
export function createLogger(options: LoggerOptions): Logger {
  const level = checkLoggerOptions(options);
  const forms = secretForms(options.secrets ?? []);
  const target = options.destination ?? process.stdout;
  const stream = {
    write: (line: string): void => void target.write(scrubForms(line, forms)),
  };
  return pino(
    {
      level,
      base: { service: options.serviceName },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Lines written inside a span carry its ids, so logs and traces join up.
      mixin: () => {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const ctx = span.spanContext();
        return isSpanContextValid(ctx) ? { trace_id: ctx.traceId, span_id: ctx.spanId } : {};
      },
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    },
    stream,
  );
}

/**
 * A child logger for one component (`component` field on every line); it shares the parent's
 * level, redaction and scrubbing.
 */
export function componentLogger(parent: Logger, component: string, bindings: Bindings = {}): Logger {
  return parent.child({ ...bindings, component });
}
