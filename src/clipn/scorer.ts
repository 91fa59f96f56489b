/**
 * CLIPN scores for image embeddings against a label set's heads (reference/CLIPN.md), in
 * float64 with stable softmax and logsumexp.
 */

/** Heads of a label set: L2-normalised rows, [K*D] each. */
export interface Heads {
  readonly labels: readonly string[];
  readonly dim: number;
  readonly yes: Float32Array;
  readonly no: Float32Array;
}

/** Calibrated ID-score thresholds of a label set (OOD when the score is below). */
export interface ScoreThresholds {
  ctw?: number | null;
  atd?: number | null;
}

/** One class among the top ones. */
export interface TopClass {
  label: string;
  index: number;
  /** Softmax probability over the label set. */
  p: number;
  /** Yes-vs-no probability of this class. */
  pYes: number;
}

/** The scores of one image. */
export interface ImageScore {
  index: number;
  label: string;
  scores: { ctw: number; atd: number; msp: number; maxLogit: number; energy: number };
  ood: { ctw: boolean; atd: boolean };
  top: TopClass[];
}

/** Scores `n` embeddings ([n*D], not necessarily normalised) against `heads`. */
export function scoreImages(embeds: Float32Array, n: number, heads: Heads, options: { logitScale: number; topK?: number; thresholds?: ScoreThresholds | null }): ImageScore[] {
  const { dim, labels } = heads;
  const k = labels.length;
  const topK = Math.min(options.topK ?? 5, k);
  const results: ImageScore[] = [];
  const lYes = new Float64Array(k);
  const lNo = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const f = embeds.subarray(i * dim, (i + 1) * dim);
    let norm = 0;
    for (let d = 0; d < dim; d++) norm += f[d]! * f[d]!;
    const inv = options.logitScale / Math.max(Math.sqrt(norm), 1e-12);
    for (let c = 0; c < k; c++) {
      let y = 0;
      let o = 0;
      const row = c * dim;
      for (let d = 0; d < dim; d++) {
        y += f[d]! * heads.yes[row + d]!;
        o += f[d]! * heads.no[row + d]!;
      }
      lYes[c] = y * inv;
      lNo[c] = o * inv;
    }
    let max = -Infinity;
    let index = 0;
    for (let c = 0; c < k; c++) if (lYes[c]! > max) ((max = lYes[c]!), (index = c));
    let sum = 0;
    for (let c = 0; c < k; c++) sum += Math.exp(lYes[c]! - max);
    const energy = max + Math.log(sum);
    let atd = 0;
    let maxWeighted = 0;
    const classes: TopClass[] = [];
    for (let c = 0; c < k; c++) {
      const p = Math.exp(lYes[c]! - energy);
      // exp(a) / (exp(a) + exp(b)) as a logistic of the difference: no overflow.
      const pYes = 1 / (1 + Math.exp(lNo[c]! - lYes[c]!));
      atd += pYes * p;
      maxWeighted = Math.max(maxWeighted, pYes * p);
      classes.push({ label: labels[c]!, index: c, p, pYes });
    }
    const ctw = classes[index]!.pYes;
    const t = options.thresholds;
    const ood = {
      ctw: t?.ctw != null ? ctw < t.ctw : ctw < 0.5,
      atd: t?.atd != null ? atd < t.atd : 1 - atd > maxWeighted,
    };
    classes.sort((a, b) => b.p - a.p);
    results.push({
      index,
      label: labels[index]!,
      scores: { ctw, atd, msp: classes[0]!.p, maxLogit: max, energy },
      ood,
      top: classes.slice(0, topK),
    });
  }
  return results;
}
