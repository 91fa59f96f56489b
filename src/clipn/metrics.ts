/** OOD metrics on ID scores (ID is the positive class): ROC curve, AUROC, FPR at a TPR level. */
import { ClipnError } from '../errors.js';

/** ROC points from the highest threshold down, starting at (0,0); tied scores form one step. */
export function rocCurve(idScores: readonly number[], oodScores: readonly number[]): { fpr: number[]; tpr: number[] } {
  if (idScores.length === 0 || oodScores.length === 0) {
    throw new ClipnError('INPUT_INVALID', `ROC needs ID and OOD scores, got ${idScores.length} ID and ${oodScores.length} OOD`);
  }
  const all = [...idScores.map((s) => ({ s, pos: 1 })), ...oodScores.map((s) => ({ s, pos: 0 }))].sort((a, b) => b.s - a.s);
  const fpr = [0];
  const tpr = [0];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < all.length; i++) {
    if (all[i]!.pos) tp++;
    else fp++;
    if (i === all.length - 1 || all[i + 1]!.s !== all[i]!.s) {
      tpr.push(tp / idScores.length);
      fpr.push(fp / oodScores.length);
    }
  }
  return { fpr, tpr };
}

/** Area under the ROC curve (trapezoids; ties count half, as Mann-Whitney). */
export function auroc(idScores: readonly number[], oodScores: readonly number[]): number {
  const { fpr, tpr } = rocCurve(idScores, oodScores);
  let area = 0;
  for (let i = 1; i < fpr.length; i++) area += ((fpr[i]! - fpr[i - 1]!) * (tpr[i]! + tpr[i - 1]!)) / 2;
  return area;
}

/** FPR where the ROC curve first reaches `level` TPR, linearly interpolated between its points. */
export function fprAtTpr(idScores: readonly number[], oodScores: readonly number[], level = 0.95): number {
  const { fpr, tpr } = rocCurve(idScores, oodScores);
  const i = tpr.findIndex((t) => t >= level);
  if (i <= 0 || tpr[i] === level) return fpr[Math.max(i, 0)]!;
  const [t0, t1, f0, f1] = [tpr[i - 1]!, tpr[i]!, fpr[i - 1]!, fpr[i]!];
  return f0 + ((f1 - f0) * (level - t0)) / (t1 - t0);
}

/** The threshold on ID scores that keeps `tpr` of them at or above it (calibration). */
export function thresholdAtTpr(idScores: readonly number[], tpr: number): number {
  if (idScores.length === 0) throw new ClipnError('INPUT_INVALID', 'calibration needs at least one ID score');
  if (!(tpr > 0 && tpr <= 1)) throw new ClipnError('INPUT_INVALID', `tpr: expected a share in (0, 1], got ${tpr}`);
  const sorted = [...idScores].sort((a, b) => b - a);
  // The epsilon keeps float noise (0.07 * 100 = 7.000000000000001) from keeping one score more.
  const keep = Math.max(1, Math.ceil(tpr * sorted.length - 1e-9));
  return sorted[keep - 1]!;
}
