/**
 * Producing within the broker's size limits. A topic refuses a record batch larger than its
 * max.message.bytes (MESSAGE_TOO_LARGE), and a refused batch would never be committed: the
 * consumer would fetch the same messages again forever. So records are sent in groups that
 * fit; a group the broker still refuses is split and sent again, down to single records; a
 * single record that cannot fit is replaced by a small one (a dead letter without the value).
 */
import { ClipnError } from '../errors.js';
import type { Traced } from '../telemetry/tracing.js';

/** The consumed message a record was made for. */
export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  timestamp: string;
  headers: Record<string, unknown> | undefined;
  /** The request id, when known. */
  id: string | null;
  valueBytes: number;
}

/** One record to produce; `trace` is the context its send span is a child of. */
export interface OutputRecord extends Traced {
  topic: string;
  key: Buffer | string | null;
  value: Buffer;
  headers?: Record<string, string | Buffer>;
  /** The input it was made for: what a dead letter names when the record cannot be produced. */
  origin?: RecordOrigin;
}

/** Sends one group of records in one produce call. */
export type SendGroup = (records: OutputRecord[]) => Promise<void>;

/** A small record to send instead of one that cannot fit (`bytes` over `limit`). */
export type Replace = (record: OutputRecord, bytes: number, limit: number) => Promise<OutputRecord>;

/** Largest record group, in bytes, that each topic takes (its max.message.bytes less the batch framing). */
export type SizeLimit = (topic: string) => number;

// Record batch header (61 bytes) plus a margin for varint framing we do not count exactly.
const BATCH_OVERHEAD = 61 + 512;
// Per record: attributes, timestamp and offset deltas, lengths (varints).
const RECORD_OVERHEAD = 24;

/** The size of a record batch limit for records: max.message.bytes less the batch framing. */
export function recordsLimit(maxMessageBytes: number): number {
  return Math.max(1024, maxMessageBytes - BATCH_OVERHEAD);
}

/** A record's size on the wire (uncompressed), slightly overestimated. */
export function recordBytes(r: OutputRecord): number {
  const len = (v: Buffer | string | null | undefined): number => (v === null || v === undefined ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  let bytes = RECORD_OVERHEAD + len(r.key) + r.value.length;
  for (const [k, v] of Object.entries(r.headers ?? {})) bytes += 10 + Buffer.byteLength(k) + len(v);
  return bytes;
}

/** True for the broker's "too large" answers (a record or a whole record list). */
export function isTooLarge(error: unknown): boolean {
  const type = (error as { type?: unknown } | null)?.type;
  return type === 'MESSAGE_TOO_LARGE' || type === 'RECORD_LIST_TOO_LARGE';
}

/** Groups records in order so that each group's records of one topic stay under that topic's limit. */
export function groupBySize(records: readonly OutputRecord[], limit: SizeLimit): OutputRecord[][] {
  const groups: OutputRecord[][] = [];
  let group: OutputRecord[] = [];
  const bytesByTopic = new Map<string, number>();
  for (const r of records) {
    const size = recordBytes(r);
    const used = bytesByTopic.get(r.topic) ?? 0;
    if (group.length > 0 && used + size > limit(r.topic)) {
      groups.push(group);
      group = [];
      bytesByTopic.clear();
    }
    group.push(r);
    bytesByTopic.set(r.topic, (bytesByTopic.get(r.topic) ?? 0) + size);
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * Sends every record: oversized ones replaced up front, the rest in groups under the limits;
 * a group refused as too large is halved and sent again, a single refused record replaced.
 * @returns how many records were replaced.
 */
export async function sendWithinLimits(records: readonly OutputRecord[], send: SendGroup, limit: SizeLimit, replace: Replace): Promise<number> {
  let replaced = 0;
  const fitted: OutputRecord[] = [];
  for (const r of records) {
    const bytes = recordBytes(r);
    if (bytes <= limit(r.topic)) fitted.push(r);
    else {
      replaced++;
      fitted.push(await replace(r, bytes, limit(r.topic)));
    }
  }
  const sendSplitting = async (group: OutputRecord[]): Promise<void> => {
    try {
      await send(group);
    } catch (error) {
      if (!isTooLarge(error)) throw error;
      if (group.length > 1) {
        const half = Math.ceil(group.length / 2);
        await sendSplitting(group.slice(0, half));
        await sendSplitting(group.slice(half));
        return;
      }
      const [only] = group as [OutputRecord];
      const bytes = recordBytes(only);
      const substitute = await replace(only, bytes, Math.min(bytes - 1, limit(only.topic)));
      replaced++;
      try {
        await send([substitute]);
      } catch (again) {
        throw new ClipnError('KAFKA_ERROR', `${only.topic}: a record of ${bytes} bytes was refused as too large, and so was its ${recordBytes(substitute)}-byte replacement`, { cause: again, retriable: false });
      }
    }
  };
  for (const group of groupBySize(fitted, limit)) await sendSplitting(group);
  return replaced;
}
