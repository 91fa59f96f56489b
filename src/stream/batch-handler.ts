/**
 * The kafkajs eachBatch handler: takes messages of one partition in order, in chunks bounded
 * by the free in-flight slots, hands each to the message handler (which never throws: bad
 * input becomes a dead letter), delivers the chunk's records, and only then commits the offset
 * after the chunk. Partitions run concurrently, which is what fills cross-partition
 * micro-batches in the batcher downstream.
 */
import type { EachBatchPayload, KafkaMessage } from '../kafka/index.js';
import { isClipnError } from '../errors.js';
import type { Delivery, OutputRecord } from './delivery.js';
import type { Slots } from './slots.js';

/** Where a consumed message came from. */
export interface MessageSource {
  topic: string;
  partition: number;
}

/**
 * Turns one consumed message into the records to produce for it. Rejects only with
 * INTERRUPTED (shutdown stopped work that could still succeed): its chunk is then neither
 * delivered nor committed, and is processed again after a restart.
 */
export type MessageHandler = (message: KafkaMessage, source: MessageSource) => Promise<OutputRecord[]>;

/** Hooks the processor reports through (metrics, logs). */
export interface BatchHooks {
  onPaused?(source: MessageSource, paused: boolean): void;
  onLag?(source: MessageSource, lag: number): void;
  /** A chunk's messages are done with, delivered or not (in-flight accounting). */
  onSettled?(messages: number): void;
  onTaken?(messages: number): void;
  onDelivery?(source: MessageSource, ms: number): void;
}

/** Options of {@link createBatchHandler}. */
export interface BatchHandlerOptions {
  /** Most messages of one partition handed on before their records are delivered. */
  maxChunk: number;
  /** How often to heartbeat while a chunk is in flight, in ms. */
  heartbeatIntervalMs: number;
  /** False once no new chunk should start (shutdown drains what is in flight). */
  accepting?: () => boolean;
}

// Heartbeat answers meaning this member's assignment is changing: stop, let kafkajs rejoin.
const REBALANCE = new Set(['REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'FENCED_INSTANCE_ID']);

/** Builds the eachBatch handler. */
export function createBatchHandler(
  handle: MessageHandler,
  delivery: Delivery,
  slots: Slots,
  options: BatchHandlerOptions,
  hooks: BatchHooks = {},
): (payload: EachBatchPayload) => Promise<void> {
  return async (payload) => {
    const { batch } = payload;
    const source: MessageSource = { topic: batch.topic, partition: batch.partition };
    let rebalance: unknown = null;
    const heartbeat = () =>
      payload.heartbeat().catch((error: unknown) => {
        // Anything else is retried by the next beat; a rebalance ends this batch.
        if (REBALANCE.has(String((error as { type?: unknown }).type))) rebalance ??= error;
      });
    // Long batches (slow inference, big chunks) must not cost us the group membership.
    const beat = setInterval(() => void heartbeat(), options.heartbeatIntervalMs);
    try {
      const messages = batch.messages;
      let next = 0;
      while (next < messages.length && payload.isRunning() && !payload.isStale() && rebalance === null && (options.accepting?.() ?? true)) {
        let taken = slots.tryTake(Math.min(options.maxChunk, messages.length - next));
        if (taken === 0) {
          // Backpressure: stop fetching this partition until in-flight work drains.
          const resume = payload.pause();
          hooks.onPaused?.(source, true);
          await slots.whenFree();
          resume();
          hooks.onPaused?.(source, false);
          continue;
        }
        const chunk = messages.slice(next, next + taken);
        hooks.onTaken?.(chunk.length);
        try {
          const settled = await Promise.allSettled(chunk.map((m) => handle(m, source)));
          const failed = settled.find((s) => s.status === 'rejected');
          if (failed !== undefined) {
            if (isClipnError(failed.reason, 'INTERRUPTED')) return; // nothing of this chunk is delivered or committed
            throw failed.reason;
          }
          const records = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
          const last = chunk[chunk.length - 1] as KafkaMessage;
          const nextOffset = (BigInt(last.offset) + 1n).toString();
          const started = performance.now();
          try {
            await delivery.deliver(records, { ...source, offset: nextOffset });
          } catch (error) {
            if (isClipnError(error, 'INTERRUPTED')) return; // the partition moved on: not committed here
            throw error;
          }
          hooks.onDelivery?.(source, performance.now() - started);
          payload.resolveOffset(last.offset);
          hooks.onLag?.(source, lagAfter(batch.highWatermark, nextOffset));
        } finally {
          slots.give(taken);
          hooks.onSettled?.(chunk.length);
          taken = 0;
        }
        next += chunk.length;
      }
      await heartbeat();
    } finally {
      clearInterval(beat);
    }
    // Revoked partitions must not go on being processed: kafkajs rejoins on this error.
    if (rebalance !== null) throw rebalance;
  };
}

function lagAfter(highWatermark: string, nextOffset: string): number {
  const lag = BigInt(highWatermark) - BigInt(nextOffset);
  return lag > 0n ? Number(lag) : 0;
}
