/** A connected admin client for the length of one piece of work. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, Kafka } from 'kafkajs';
import { isRetriable } from './errors.js';

// A broker busy with rebalances can close a fresh connection (seen when a replica restarted
// during a scale-out test): a few tries, spaced, before a retriable failure stops start-up.
const TRIES = 4;
const FIRST_WAIT_MS = 500;

/**
 * Runs `work` with a connected admin client of `kafka` and disconnects it afterwards, also when
 * `work` fails. A retriable Kafka failure (a closed connection) starts the session again, up to
 * 4 tries with doubling waits from 500 ms; `work` must therefore be safe to repeat.
 */
export async function withAdmin<T>(kafka: Kafka, work: (admin: Admin) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      return await work(admin);
    } catch (error) {
      if (attempt >= TRIES || !isRetriable(error)) throw error;
      await sleep(FIRST_WAIT_MS * 2 ** (attempt - 1));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
