/**
 * Re-driving dead letters: the chosen letters on the dead-letter topic (by error code, time of
 * failure, or request id) are produced again to the topic they came from (or another), with the
 * value, key and headers they were consumed with, so the sidecar processes them anew. Only
 * letters that kept their whole value can be replayed; the others are reported, never guessed.
 */
import type { Kafka } from '../kafka/index.js';
import type { RecordCodec } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import { readToEnd } from '../kafka/index.js';

/** Which letters to replay; every given filter must match. */
export interface ReplayFilter {
  codes?: readonly string[];
  ids?: readonly string[];
  /** failedAt >= since (epoch ms). */
  since?: number;
  /** failedAt < until (epoch ms). */
  until?: number;
}

/** Options of {@link replayDeadLetters}. */
export interface ReplayOptions {
  deadLetterTopic: string;
  filter: ReplayFilter;
  /** Produce here instead of each letter's source topic. */
  to?: string;
  /** Report what would be replayed, produce nothing. */
  dryRun?: boolean;
  /** Replay at most this many (the oldest first). */
  max?: number;
  /** Limit on reading the dead-letter topic to its end. */
  readTimeoutMs?: number;
}

/** What happened to one matching letter. */
export interface ReplayedLetter {
  id: string | null;
  errorCode: string;
  /** Where the letter sits on the dead-letter topic. */
  letter: { partition: number; offset: string };
  /** Where it was (or would be) produced; null when it was skipped. */
  to: string | null;
  skipped: string | null;
}

/** The header each replayed record carries: where its dead letter was, for tracing loops. */
export const REPLAY_HEADER = 'clipn-replayed-from';

interface Letter {
  id: string | null;
  errorCode: string;
  source: { topic: string; key: Buffer | null };
  headers: Record<string, Buffer>;
  originalValue: Buffer;
  originalValueBytes: number;
  truncated: boolean;
  failedAt: number;
}

function matches(l: Letter, f: ReplayFilter): boolean {
  if (f.codes && f.codes.length > 0 && !f.codes.includes(l.errorCode)) return false;
  if (f.ids && f.ids.length > 0 && (l.id === null || !f.ids.includes(l.id))) return false;
  if (f.since !== undefined && l.failedAt < f.since) return false;
  if (f.until !== undefined && l.failedAt >= f.until) return false;
  return true;
}

/** Reads the dead-letter topic to its current end and replays the letters that match. */
export async function replayDeadLetters(kafka: Kafka, codec: RecordCodec, options: ReplayOptions): Promise<ReplayedLetter[]> {
  const messages = await readToEnd(kafka, options.deadLetterTopic, { timeoutMs: options.readTimeoutMs ?? 60_000 });
  const out: ReplayedLetter[] = [];
  const batch: Array<{ topic: string; key: Buffer | null; value: Buffer; headers: Record<string, Buffer | string> }> = [];
  for (const m of messages) {
    if (m.value === null || m.value.length === 0) continue;
    let letter: Letter;
    try {
      letter = (await codec.decode(m.value, 'DeadLetter')).value as unknown as Letter;
    } catch {
      continue; // not a dead letter of ours: nothing to replay
    }
    if (!matches(letter, options.filter)) continue;
    const where = { partition: m.partition, offset: m.offset };
    const base = { id: letter.id, errorCode: letter.errorCode, letter: where };
    if (letter.truncated || letter.originalValue.length !== letter.originalValueBytes || letter.originalValueBytes === 0) {
      out.push({ ...base, to: null, skipped: letter.originalValueBytes === 0 ? 'the input had no value' : `the value was not kept whole (${letter.originalValue.length} of ${letter.originalValueBytes} bytes)` });
      continue;
    }
    if (options.max !== undefined && batch.length >= options.max) break;
    const to = options.to ?? letter.source.topic;
    out.push({ ...base, to, skipped: null });
    batch.push({ topic: to, key: letter.source.key, value: letter.originalValue, headers: { ...letter.headers, [REPLAY_HEADER]: `${options.deadLetterTopic}/${where.partition}/${where.offset}` } });
  }
  if (options.dryRun || batch.length === 0) return out;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (const r of batch) await producer.send({ topic: r.topic, acks: -1, messages: [{ key: r.key, value: r.value, headers: r.headers }] });
  } catch (error) {
    throw new ClipnError('KAFKA_ERROR', `replaying dead letters: ${(error as Error).message}`, { cause: error });
  } finally {
    await producer.disconnect();
  }
  return out;
}
