/**
 * What the trainer accepts as a review item's embedding: the bundle's dimension, every value
 * finite, unit L2 norm. One bad vector would otherwise fail every later training run (the kernel
 * and the evaluator reject it), so it is refused on the way in and counted.
 */

/** Why an item was refused: bad embedding, or a new embedding for an id already stored. */
export type RefusalReason = 'dimension' | 'not_finite' | 'norm' | 'replaced';

/** A refused item, as the store reports it. */
export interface SampleRefusal {
  readonly id: string;
  readonly reason: RefusalReason;
  readonly detail: string;
}

/**
 * Largest accepted |norm - 1|. Sidecars send float32 vectors normalised in float32: their norm is
 * 1 within about 1e-6 * sqrt(dim); 1e-3 leaves room for that and for rounding of any re-encoding,
 * while a vector that was never normalised (norms of raw CLIP embeddings are ~10) is refused.
 */
export const NORM_TOLERANCE = 1e-3;

/** The problem with `embedding` for a model of dimension `dim`, or null when it is fine. */
export function embeddingProblem(embedding: Float32Array, dim: number): { reason: RefusalReason; detail: string } | null {
  if (embedding.length !== dim) return { reason: 'dimension', detail: `expected ${dim} values, got ${embedding.length}` };
  let sum = 0;
  for (let i = 0; i < embedding.length; i++) {
    const v = embedding[i]!;
    if (!Number.isFinite(v)) return { reason: 'not_finite', detail: `value ${i} is ${v}` };
    sum += v * v;
  }
  const norm = Math.sqrt(sum);
  if (Math.abs(norm - 1) > NORM_TOLERANCE) return { reason: 'norm', detail: `expected L2 norm 1 ± ${NORM_TOLERANCE}, got ${norm}` };
  return null;
}

/** True when both embeddings hold exactly the same values. */
export function sameEmbedding(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}
