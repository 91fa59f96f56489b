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

/** Calibrated thresholds on the log-odds of the ID scores (OOD when the log-odds are below). */
export interface ScoreThresholds {
  ctwLogOdds?: number | null;
  atdLogOdds?: number | null;
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

/**
 * The scores of one image. `ctw`, `atd` and `msp` are the published probabilities; they saturate
 * at exactly 1.0 in float64 for confident images, so images that differ tie. The `*LogOdds`
 * fields are the same quantities as log(score / (1 - score)), computed in log space: monotone in
 * the published score, finite and distinct where it saturates. Rank and calibrate with them.
 */
export interface Scores {
  ctw: number;
  atd: number;
  msp: number;
  maxLogit: number;
  energy: number;
  ctwLogOdds: number;
  atdLogOdds: number;
  mspLogOdds: number;
}

/** The scores `clipn eval` reports AUROC and FPR95 of. */
export const SCORE_NAMES = ['ctw', 'atd', 'msp', 'maxLogit', 'energy'] as const;
export type ScoreName = (typeof SCORE_NAMES)[number];

const RANKED_BY = { ctw: 'ctwLogOdds', atd: 'atdLogOdds', msp: 'mspLogOdds', maxLogit: 'maxLogit', energy: 'energy' } as const satisfies Record<ScoreName, keyof Scores>;

/**
 * The value a score is ranked by (AUROC, FPR95, calibration): the log-odds for the saturating
 * probabilities (same order, no ties), the score itself otherwise.
 */
export function rankingValue(scores: Scores, name: ScoreName): number {
  return scores[RANKED_BY[name]];
}

/** The scores of one image. */
export interface ImageScore {
  index: number;
  label: string;
  scores: Scores;
  ood: { ctw: boolean; atd: boolean };
  top: TopClass[];
}

/** log(sigmoid(x)) without overflow or underflow to 0. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/** log(sum(exp(xs))) over a list, stable. */
function logSumExp(xs: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < xs.length; i++) max = Math.max(max, xs[i]!);
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < xs.length; i++) sum += Math.exp(xs[i]! - max);
  return max + Math.log(sum);
}

/** Scores `n` embeddings ([n*D], not necessarily normalised) against `heads`. */
export function scoreImages(embeds: Float32Array, n: number, heads: Heads, options: { logitScale: number; topK?: number; thresholds?: ScoreThresholds | null }): ImageScore[] {
  const { dim, labels } = heads;
  const k = labels.length;
  const topK = Math.min(options.topK ?? 5, k);
  const results: ImageScore[] = [];
  const lYes = new Float64Array(k);
  const lNo = new Float64Array(k);
  const logWeighted = new Float64Array(k); // log(p_yes_i p_i)
  const logNoWeighted = new Float64Array(k); // log(p_no_i p_i)
  const others = new Float64Array(Math.max(0, k - 1));
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
    const energy = logSumExp(lYes);
    let maxLogWeighted = -Infinity;
    const classes: TopClass[] = [];
    for (let c = 0; c < k; c++) {
      const logP = lYes[c]! - energy;
      const d = lYes[c]! - lNo[c]!; // log(p_yes / p_no) of this class
      logWeighted[c] = logP + logSigmoid(d);
      logNoWeighted[c] = logP + logSigmoid(-d);
      maxLogWeighted = Math.max(maxLogWeighted, logWeighted[c]!);
      classes.push({ label: labels[c]!, index: c, p: Math.exp(logP), pYes: Math.exp(logSigmoid(d)) });
    }
    for (let c = 0, j = 0; c < k; c++) if (c !== index) others[j++] = lYes[c]!;
    const ctwLogOdds = lYes[index]! - lNo[index]!;
    const logAtd = logSumExp(logWeighted);
    const logOod = logSumExp(logNoWeighted); // log(1 - ATD)
    const scores: Scores = {
      ctw: classes[index]!.pYes,
      atd: Math.exp(logAtd),
      msp: classes[index]!.p,
      maxLogit: max,
      energy,
      ctwLogOdds,
      atdLogOdds: logAtd - logOod,
      mspLogOdds: max - logSumExp(others),
    };
    const t = options.thresholds;
    // Without thresholds, the decisions of reference/CLIPN.md in log space:
    // CTW p_no_c > p_yes_c; ATD p_ood > max_i p_yes_i p_i.
    const ood = {
      ctw: t?.ctwLogOdds != null ? ctwLogOdds < t.ctwLogOdds : ctwLogOdds < 0,
      atd: t?.atdLogOdds != null ? scores.atdLogOdds < t.atdLogOdds : logOod > maxLogWeighted,
    };
    classes.sort((a, b) => b.p - a.p);
    results.push({ index, label: labels[index]!, scores, ood, top: classes.slice(0, topK) });
  }
  return results;
}
