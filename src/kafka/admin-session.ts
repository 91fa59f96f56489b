/** A connected admin client for the length of one piece of work. */
import type { Admin, Kafka } from 'kafkajs';
import { withRetries, type RetryPolicy } from '../retry.js';
import { kafkaError } from './errors.js';

// A broker busy with rebalances can close a fresh connection (seen when a replica restarted
// during a scale-out test): a few tries, spaced, before a retriable failure stops start-up.
const ADMIN_RETRY: RetryPolicy = Object.freeze({ attempts: 4, initialBackoffMs: 500, maxBackoffMs: 4000 });

/**
 * Runs `work` with a connected admin client of `kafka` and disconnects it afterwards, also when
 * `work` fails. A retriable Kafka failure (a closed connection) starts the session again, up to
 * 4 tries with doubling waits from 500 ms; `work` must therefore be safe to repeat. Failures
 * reach the caller as ClipnError (kafkajs ones as KAFKA_ERROR, with the kafkajs error as cause).
 */
export function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  return withRetries(async () => {
    const admin = kafka.admin();
    try {
      await admin.connect();
      return await work(admin);
    } catch (error) {
      throw kafkaError(error, 'admin session');
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }, ADMIN_RETRY);
}
