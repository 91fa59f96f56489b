/**
 * Waiting for records and conditions with explicit timeouts (never fixed sleeps): a background
 * collector, a one-shot waitForMessages, and until() for anything else. On timeout the error
 * names what was awaited and what was seen.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { uniqueName } from './kafka-env.js';

/** A consumed record with the partition it came from. */
export type ConsumedMessage = KafkaMessage & { partition: number };

/** Which records a consumer sees: all written, or only committed ones (no aborted or open transactions). */
export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export interface CollectOptions {
  /** Default read_uncommitted. */
  isolationLevel?: IsolationLevel;
  /** Same as isolationLevel 'read_committed' (kept for older callers). */
  readCommitted?: boolean;
  /** Default true: from the first offset; false: only records written after joining. */
  fromBeginning?: boolean;
}

export interface Collector {
  readonly messages: ConsumedMessage[];
  /** Resolves when `predicate` holds over what has arrived; rejects after `timeoutMs` naming `what` and what was seen. */
  waitFor(what: string, predicate: (messages: ConsumedMessage[]) => boolean, timeoutMs: number): Promise<ConsumedMessage[]>;
  stop(): Promise<void>;
}

/** A short account of what arrived, for timeout messages. */
export function describeMessages(messages: readonly KafkaMessage[], shown = 5): string {
  if (messages.length === 0) return 'no messages arrived';
  const text = (b: Buffer | null | undefined): string => (b === null || b === undefined ? 'null' : JSON.stringify(b.toString('utf8').slice(0, 40)));
  const head = messages.slice(0, shown).map((m) => `${text(m.key)}=${text(m.value)}@${m.offset}`);
  return `${messages.length} message(s) arrived: ${head.join(', ')}${messages.length > shown ? ', ...' : ''}`;
}

/** Consumes `topic` in the background (its own fresh group), collecting every record. */
export async function collect(kafka: Kafka, topic: string, options: CollectOptions = {}): Promise<Collector> {
  const readCommitted = options.readCommitted ?? options.isolationLevel === 'read_committed';
  const consumer = kafka.consumer({ groupId: uniqueName('collector'), readUncommitted: !readCommitted });
  const messages: ConsumedMessage[] = [];
  const waiters = new Set<() => void>();
  let crashed: Error | null = null;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    crashed = payload.error;
    for (const w of waiters) w();
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: options.fromBeginning ?? true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      messages.push({ ...message, partition });
      for (const w of waiters) w();
    },
  });
  return {
    messages,
    waitFor(what, predicate, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (crashed) {
            cleanup();
            reject(new Error(`the consumer of ${topic} crashed while waiting for ${what}: ${crashed.message}`, { cause: crashed }));
          } else if (predicate(messages)) {
            cleanup();
            resolve(messages);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${topic} (${readCommitted ? 'read_committed' : 'read_uncommitted'}); ${describeMessages(messages)}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    stop: () => consumer.disconnect(),
  };
}

export interface WaitForMessagesOptions extends CollectOptions {
  /** Resolve once at least this many records arrived ... */
  count?: number;
  /** ... or once this holds over what arrived (with count: both). */
  predicate?: (messages: ConsumedMessage[]) => boolean;
  /** How the condition reads in a timeout message; default from count. */
  what?: string;
  timeoutMs: number;
}

/**
 * Consumes `topic` until the condition holds, then stops and returns what arrived (consumeUntil).
 * Rejects after `timeoutMs` with what was awaited and what was seen.
 */
export async function waitForMessages(kafka: Kafka, topic: string, options: WaitForMessagesOptions): Promise<ConsumedMessage[]> {
  const { count, predicate } = options;
  if (count === undefined && predicate === undefined) throw new Error('waitForMessages: expected count or predicate, got neither');
  const what = options.what ?? (count !== undefined ? `${count} message(s)` : 'the predicate to hold');
  const collector = await collect(kafka, topic, options);
  try {
    const holds = (ms: ConsumedMessage[]): boolean => (count === undefined || ms.length >= count) && (predicate === undefined || predicate(ms));
    return [...(await collector.waitFor(what, holds, options.timeoutMs))];
  } finally {
    await collector.stop();
  }
}

/** Resolves when `condition()` is true, polling every `everyMs`; rejects after `timeoutMs` naming `what`. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
