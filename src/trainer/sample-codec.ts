/**
 * The sample store's on-disk form of items and decisions: JSON with embeddings as base64
 * little-endian float32 (a quarter of the size of decimal text, and exact).
 */
import { ClipnError } from '../errors.js';
import { float32FromBytes } from '../model/index.js';
import type { DecisionKind, StoredDecision, StoredItem } from './types.js';

const DECISIONS: readonly DecisionKind[] = ['is_class', 'none_of_labels', 'new_concept'];

/** Float32 values as base64 of their little-endian bytes. */
export function embeddingToBase64(values: Float32Array): string {
  const out = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) out.writeFloatLE(values[i]!, i * 4);
  return out.toString('base64');
}

/** The inverse of {@link embeddingToBase64}. */
export function embeddingFromBase64(text: string): Float32Array {
  return float32FromBytes(Buffer.from(text, 'base64'));
}

/** An item as a JSON-ready object. */
export function itemToJson(item: StoredItem): Record<string, unknown> {
  return { ...item, embedding: embeddingToBase64(item.embedding), labelSet: { ...item.labelSet, labels: [...item.labelSet.labels] } };
}

const bad = (what: string, got: unknown): never => {
  throw new ClipnError('TRAINER_STORE_CORRUPT', `sample store: ${what}, got ${JSON.stringify(got)?.slice(0, 200)}`);
};
const str = (v: unknown, what: string): string => (typeof v === 'string' ? v : bad(`expected ${what} to be a string`, v));
const optStr = (v: unknown, what: string): string | null => (v === null || typeof v === 'string' ? v : bad(`expected ${what} to be a string or null`, v));
const num = (v: unknown, what: string): number => (typeof v === 'number' && Number.isFinite(v) ? v : bad(`expected ${what} to be a number`, v));

/** An item read back; anything malformed is TRAINER_STORE_CORRUPT. */
export function itemFromJson(v: unknown): StoredItem {
  const o = (v ?? {}) as Record<string, unknown>;
  const ls = (o.labelSet ?? {}) as Record<string, unknown>;
  if (!Array.isArray(ls.labels)) bad('expected item.labelSet.labels to be an array', ls.labels);
  return {
    id: str(o.id, 'item.id'),
    embedding: embeddingFromBase64(str(o.embedding, 'item.embedding')),
    caption: optStr(o.caption, 'item.caption'),
    predicted: str(o.predicted, 'item.predicted'),
    sampled: o.sampled === true,
    labelSet: { id: str(ls.id, 'item.labelSet.id'), version: num(ls.version, 'item.labelSet.version'), labels: (ls.labels as unknown[]).map((l) => str(l, 'a label')) },
    promptVersion: str(o.promptVersion, 'item.promptVersion'),
    createdAt: num(o.createdAt, 'item.createdAt'),
  };
}

/** A decision read back; anything malformed is TRAINER_STORE_CORRUPT. */
export function decisionFromJson(v: unknown): StoredDecision {
  const o = (v ?? {}) as Record<string, unknown>;
  if (!DECISIONS.includes(o.decision as DecisionKind)) bad('expected decision.decision to be is_class, none_of_labels or new_concept', o.decision);
  return {
    itemId: str(o.itemId, 'decision.itemId'),
    decision: o.decision as DecisionKind,
    label: optStr(o.label ?? null, 'decision.label'),
    concept: optStr(o.concept ?? null, 'decision.concept'),
    caption: optStr(o.caption ?? null, 'decision.caption'),
    reviewer: optStr(o.reviewer ?? null, 'decision.reviewer'),
    decidedAt: num(o.decidedAt, 'decision.decidedAt'),
  };
}

/** True when two decisions say the same thing at the same time (a redelivery). */
export function sameDecision(a: StoredDecision, b: StoredDecision): boolean {
  return a.decision === b.decision && a.label === b.label && a.concept === b.concept && a.caption === b.caption && a.reviewer === b.reviewer && a.decidedAt === b.decidedAt;
}
