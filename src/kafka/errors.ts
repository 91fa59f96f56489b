/** kafkajs failures as ClipnError('KAFKA_ERROR'), keeping whether a retry can succeed. */
import { ClipnError } from '../errors.js';

interface KafkaJsLike {
  name?: unknown;
  message?: unknown;
  retriable?: unknown;
  type?: unknown;
  code?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/**
 * Whether retrying can succeed, as kafkajs says. kafkajs marks "retries exhausted" as not
 * retriable even when what failed was transient (a broker restarting); that case takes the
 * flag of the underlying error, since a later attempt can succeed. Errors that are not from
 * kafkajs (no flag) are not retriable: a bug does not go away by repetition.
 */
export function isRetriable(error: unknown): boolean {
  const e = (error ?? {}) as KafkaJsLike;
  if (e.name === 'KafkaJSNumberOfRetriesExceeded') {
    const inner = e.cause ?? e.originalError;
    if (inner !== undefined && inner !== error) return isRetriable(inner);
  }
  return typeof e.retriable === 'boolean' ? e.retriable : false;
}

/**
 * Wraps a kafkajs failure: `what` says what was being done (e.g. "creating topics a, b").
 * The kafkajs error name, protocol error type and code go into `details`. An existing
 * ClipnError is returned unchanged.
 */
export function kafkaError(error: unknown, what: string): ClipnError {
  if (error instanceof ClipnError) return error;
  const e = (error ?? {}) as KafkaJsLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const message = typeof e.message === 'string' ? e.message : String(error);
  const details: Record<string, unknown> = { kafkaError: name };
  if (typeof e.type === 'string') details.type = e.type;
  if (typeof e.code === 'number') details.code = e.code;
  return new ClipnError('KAFKA_ERROR', `${what}: ${name}: ${message}`, { cause: error, retriable: isRetriable(error), details });
}
