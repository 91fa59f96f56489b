/**
 * Knowing when a consumer has read everything some topics held at a given moment: the one way
 * the side channels, readToEnd and the trainer's sample consumer decide they are caught up.
 *
 * A partition's end is its last stable offset (what a read_committed consumer reads up to). A
 * topic written in transactions ends in a marker no message carries, and a fetched batch may hold
 * only markers or aborted records, so "last message offset + 1 == end" never holds there: the
 * position counts every processed batch (its lastOffset) and committed offsets, not only messages.
 */
import type { Admin, Consumer } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { kafkaError } from './errors.js';

/** A partition not read to its end yet: the next offset to read and the end it waits for. */
export interface PartitionBehind {
  readonly topic: string;
  readonly partition: number;
  readonly position: bigint;
  readonly end: bigint;
}

/** A partition's end offset. */
export interface PartitionEnd {
  readonly topic: string;
  readonly partition: number;
  readonly end: bigint;
}

/** Options of {@link CatchUpTracker.whenCaughtUp}. */
export interface WhenCaughtUpOptions {
  /** Reject after this long; default: wait without a limit. */
  readonly timeoutMs?: number;
  /** The error of a timeout, from the partitions still behind; default: a retriable KAFKA_ERROR. */
  readonly timeoutError?: (behind: PartitionBehind[]) => Error;
}

const key = (topic: string, partition: number): string => `${topic}:${partition}`;

/**
 * The end offset of every partition of `topic`, as a read_committed consumer sees it: the last
 * stable offset (the high watermark unless a transaction is still open).
 * @throws ClipnError KAFKA_ERROR when the broker does not answer them.
 */
export async function fetchEndOffsets(admin: Admin, topic: string): Promise<PartitionEnd[]> {
  try {
    return (await admin.fetchTopicOffsets(topic)).map((o) => ({ topic, partition: o.partition, end: BigInt(o.high) }));
  } catch (error) {
    throw kafkaError(error, `fetching the end offsets of ${topic}`);
  }
}

/**
 * Per-partition read positions against end offsets. Positions only move forward and may be
 * recorded before the ends are known; until then the tracker is not caught up.
 */
export class CatchUpTracker {
  private readonly positions = new Map<string, bigint>();
  private ends: Map<string, PartitionEnd> | null = null;
  private failure: Error | null = null;
  private readonly waiters = new Set<() => void>();

  /**
   * Fetches the end offsets of `topics` (replacing ends set before) and, with `groupId`, moves
   * each position to the group's committed offset: what a restarted group need not read again.
   * @throws ClipnError KAFKA_ERROR when the broker does not answer.
   */
  async fetchEnds(admin: Admin, topics: readonly string[], groupId?: string): Promise<void> {
    const ends: PartitionEnd[] = [];
    for (const topic of topics) {
      ends.push(...(await fetchEndOffsets(admin, topic)));
      if (groupId === undefined) continue;
      let committed: Awaited<ReturnType<Admin['fetchOffsets']>>;
      try {
        committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      } catch (error) {
        throw kafkaError(error, `fetching the offsets of group ${groupId} on ${topic}`);
      }
      // -1: nothing committed on that partition.
      for (const { partitions } of committed) for (const { partition, offset } of partitions) if (BigInt(offset) >= 0n) this.advance(topic, partition, BigInt(offset));
    }
    this.setEnds(ends);
  }

  /** Sets the ends to wait for (replacing ends set before). */
  setEnds(ends: Iterable<PartitionEnd>): void {
    this.ends = new Map([...ends].map((e) => [key(e.topic, e.partition), e]));
    this.wake();
  }

  /** The consumer is past `offset` of a partition: a record it consumed, or the last offset a batch covered. */
  passed(topic: string, partition: number, offset: string | null | undefined): void {
    if (offset === null || offset === undefined) return;
    this.advance(topic, partition, BigInt(offset) + 1n);
  }

  /** The next offset to read of a partition is at least `next` (a committed offset). */
  advance(topic: string, partition: number, next: bigint): void {
    const k = key(topic, partition);
    if (next <= (this.positions.get(k) ?? 0n)) return;
    this.positions.set(k, next);
    this.wake();
  }

  /**
   * Moves positions past every batch `consumer` finishes, one of only transaction markers or
   * aborted records too (no message handler sees those). The event fires after the batch's
   * handler returned, so a position never runs ahead of what was handled. Call before run().
   */
  follow(consumer: Consumer): void {
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => this.passed(payload.topic, payload.partition, payload.lastOffset));
  }

  /** The partitions not read to their end (every partition while the ends are unknown: none listed). */
  behind(): PartitionBehind[] {
    return [...(this.ends?.values() ?? [])]
      .map(({ topic, partition, end }) => ({ topic, partition, end, position: this.positions.get(key(topic, partition)) ?? 0n }))
      .filter((p) => p.position < p.end);
  }

  /** True once the ends are known and every partition is read up to its end (an empty partition at once). */
  get caughtUp(): boolean {
    return this.ends !== null && this.behind().length === 0;
  }

  /** Consumption failed for good: every wait, now or later, rejects with `error`. */
  fail(error: Error): void {
    this.failure ??= error;
    this.wake();
  }

  /**
   * Resolves once caught up; rejects after `timeoutMs`, or with the error given to {@link fail}.
   * @throws ClipnError KAFKA_ERROR (retriable) on a timeout, unless `timeoutError` says otherwise.
   */
  whenCaughtUp(options: WhenCaughtUpOptions = {}): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = (error: Error | null): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error === null) resolve();
        else reject(error);
      };
      const check = (): void => {
        if (this.failure !== null) settle(this.failure);
        else if (this.caughtUp) settle(null);
      };
      if (options.timeoutMs !== undefined) {
        const { timeoutMs } = options;
        timer = setTimeout(() => settle((options.timeoutError ?? defaultTimeoutError(timeoutMs))(this.behind())), timeoutMs);
      }
      this.waiters.add(check);
      check();
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}

function defaultTimeoutError(timeoutMs: number): (behind: PartitionBehind[]) => Error {
  return (behind) =>
    new ClipnError('KAFKA_ERROR', `not caught up within ${timeoutMs} ms (${describeBehind(behind)})`, { retriable: true, details: { timeoutMs, behind: behind.map((p) => key(p.topic, p.partition)) } });
}

/** "topic:partition at position of end, ..." for error messages. */
export function describeBehind(behind: readonly PartitionBehind[]): string {
  return behind.map((p) => `${key(p.topic, p.partition)} at ${p.position} of ${p.end}`).join(', ');
}
