/**
 * Retries: a failure whose ClipnError is retriable (a fetch timeout, an
 * HTTP 5xx, a failed inference, a label set not loaded yet) is tried again after an exponential
 * backoff, up to a number of attempts; anything else, or the last failure, is final.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ClipnError, toClipnError } from './errors.js';

/** How often and how patiently to retry (processing.retry). */
export interface RetryPolicy {
  /** Tries in all, the first included (>= 1); Infinity retries a retriable failure without end (until `signal`). */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/** The wait before try `attempt` (2, 3, ...): doubling from the initial backoff, capped, with up to 20% jitter below it. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.max(0, attempt - 2));
  // Jitter spreads retries of a burst that failed together (one slow server) over time.
  return Math.round(base * (1 - 0.2 * random()));
}

/**
 * Runs `work` until it succeeds, fails with a non-retriable error, or the attempts are spent;
 * the final error says how many tries were made. `signal` (shutdown) stops the waiting between
 * tries: the last error is then thrown as it is.
 */
export async function withRetries<T>(
  work: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: { signal?: AbortSignal; onRetry?: (error: ClipnError, attempt: number, waitMs: number) => void } = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work(attempt);
    } catch (error) {
      const e = toClipnError(error);
      if (!e.retriable || attempt >= policy.attempts || options.signal?.aborted) {
        if (attempt === 1) throw e;
        throw new ClipnError(e.code, `${e.message} (gave up after ${attempt} tries)`, { cause: e.cause, retriable: e.retriable, details: { ...e.details, attempts: attempt } });
      }
      const wait = backoffMs(policy, attempt + 1);
      options.onRetry?.(e, attempt, wait);
      try {
        await sleep(wait, undefined, { signal: options.signal });
      } catch {
        throw e; // shutdown while waiting: the last failure stands
      }
    }
  }
}
