/**
 * The publish gate: held-out metrics of one prompt from its scores, and the rule that compares
 * a candidate with the serving model. Pure functions; scoring itself is in evaluator.ts.
 */
import { auroc, fprAtTpr } from '../clipn/index.js';
import type { GateDecision, GateMetrics } from './types.js';

/** Scores of the held-out samples under one prompt. */
export interface HeldOutScores {
  /** ATD and CTW ID scores (log-odds) of held-out ID samples. */
  readonly id: ReadonlyArray<{ atd: number; ctw: number }>;
  /** ATD and CTW ID scores (log-odds) of held-out OOD samples. */
  readonly ood: ReadonlyArray<{ atd: number; ctw: number }>;
  /** For reviewer-labelled held-out ID samples: whether the predicted class is their label. */
  readonly correct: readonly boolean[];
}

/** Margins of {@link decide}. */
export interface GateMargins {
  /** The candidate's ATD AUROC may be at most this much below the serving one. */
  readonly auroc: number;
  /** The candidate's ID accuracy may be at most this much below the serving one. */
  readonly accuracy: number;
}

/** AUROC and FPR95 of both scores (ID positive), and ID accuracy. */
export function gateMetrics(s: HeldOutScores): GateMetrics {
  const atdId = s.id.map((x) => x.atd);
  const atdOod = s.ood.map((x) => x.atd);
  const ctwId = s.id.map((x) => x.ctw);
  const ctwOod = s.ood.map((x) => x.ctw);
  return {
    atdAuroc: auroc(atdId, atdOod),
    ctwAuroc: auroc(ctwId, ctwOod),
    atdFpr95: fprAtTpr(atdId, atdOod, 0.95),
    ctwFpr95: fprAtTpr(ctwId, ctwOod, 0.95),
    idAccuracy: s.correct.length === 0 ? null : s.correct.filter(Boolean).length / s.correct.length,
    heldOutId: s.id.length,
    heldOutOod: s.ood.length,
    accuracySamples: s.correct.length,
  };
}

/**
 * Publish only when the candidate's ATD AUROC is at least the serving one minus `margins.auroc`
 * and its ID accuracy at least the serving one minus `margins.accuracy` (skipped when there are
 * no labelled held-out ID samples).
 */
export function decide(candidate: GateMetrics, serving: GateMetrics, margins: GateMargins): GateDecision {
  const reasons: string[] = [];
  const f = (x: number): string => x.toFixed(4);
  if (!(candidate.atdAuroc >= serving.atdAuroc - margins.auroc)) {
    reasons.push(`ATD AUROC ${f(candidate.atdAuroc)} < serving ${f(serving.atdAuroc)} - margin ${margins.auroc}`);
  }
  if (candidate.idAccuracy !== null && serving.idAccuracy !== null && !(candidate.idAccuracy >= serving.idAccuracy - margins.accuracy)) {
    reasons.push(`ID accuracy ${f(candidate.idAccuracy)} < serving ${f(serving.idAccuracy)} - margin ${margins.accuracy}`);
  }
  return { publish: reasons.length === 0, reasons };
}

/** Metrics of candidate and serving as a release's lineage map (`candidate.atdAuroc`, `serving.atdAuroc`, ...). */
export function lineageMetrics(candidate: GateMetrics, serving: GateMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [who, m] of [['candidate', candidate], ['serving', serving]] as const) {
    for (const [k, v] of Object.entries(m)) if (typeof v === 'number' && Number.isFinite(v)) out[`${who}.${k}`] = v;
  }
  // The candidate's own numbers also under plain names: what `clipn models list` shows.
  for (const k of ['atdAuroc', 'ctwAuroc', 'atdFpr95', 'ctwFpr95', 'idAccuracy'] as const) {
    const v = candidate[k];
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  }
  return out;
}
