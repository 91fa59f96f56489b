/**
 * Routing rules: which scored images go to the review topic. A label set names its rule; the
 * "calibrated" rule uses thresholds measured by `clipn calibrate` on that label set's ID data.
 */
import { createHash } from 'node:crypto';
import type { RoutingRule, ScoreThresholds } from '../clipn/index.js';
import { ClipnError } from '../errors.js';

/** What the router needs of a scored image. */
export interface RoutableScore {
  scores: { ctwLogOdds: number; atdLogOdds: number };
  ood: { ctw: boolean; atd: boolean };
}

/** The routing decision, with the reasons a reviewer reads. */
export interface RoutingDecision {
  review: boolean;
  reasons: string[];
}

/** Decides whether one scored image goes to review under `rule`. */
export function route(rule: RoutingRule, result: RoutableScore, thresholds?: ScoreThresholds | null): RoutingDecision {
  const reasons: string[] = [];
  if (rule === 'calibrated') {
    const ctw = thresholds?.ctwLogOdds ?? null;
    const atd = thresholds?.atdLogOdds ?? null;
    if (ctw === null && atd === null) {
      throw new ClipnError('LABEL_SET_INVALID', 'routing rule "calibrated" needs thresholds.ctwLogOdds or thresholds.atdLogOdds');
    }
    if (ctw !== null && result.scores.ctwLogOdds < ctw) reasons.push(`ctw log-odds ${fmt(result.scores.ctwLogOdds)} < calibrated ${fmt(ctw)}`);
    if (atd !== null && result.scores.atdLogOdds < atd) reasons.push(`atd log-odds ${fmt(result.scores.atdLogOdds)} < calibrated ${fmt(atd)}`);
    return { review: reasons.length > 0, reasons };
  }
  if (result.ood.ctw) reasons.push(`ctw: p_no > p_yes for the predicted class (log-odds ${fmt(result.scores.ctwLogOdds)})`);
  if (result.ood.atd) reasons.push(`atd: p_ood > max class probability (log-odds ${fmt(result.scores.atdLogOdds)})`);
  const review =
    rule === 'ctw' ? result.ood.ctw
    : rule === 'atd' ? result.ood.atd
    : rule === 'both' ? result.ood.ctw && result.ood.atd
    : result.ood.ctw || result.ood.atd;
  return { review, reasons: review ? reasons : [] };
}

function fmt(x: number): string {
  return x.toFixed(4);
}

/** The reason a captioned in-distribution input is in the review topic: a training pair, not an outlier. */
export const SAMPLED_REASON = 'sampled';

/**
 * Whether a captioned input the rule did not route, and that neither flag calls OOD, is also sent
 * to review as an ID training pair: a `share` of them, chosen by a hash of the id (the same id is
 * always chosen the same way, on every replica and after a replay).
 */
export function sampledForTraining(id: string, caption: string | null, result: RoutableScore, share: number): boolean {
  if (share <= 0 || caption === null || caption.trim().length === 0 || result.ood.ctw || result.ood.atd) return false;
  const unit = createHash('sha256').update(`clipn-sample:${id}`).digest().readUInt32BE(0) / 2 ** 32;
  return unit < share;
}

/** `decision`, or for an unrouted input chosen by {@link sampledForTraining} a review with reason "sampled". */
export function withTrainingSample(decision: RoutingDecision, input: { id: string; caption: string | null }, result: RoutableScore, share: number): RoutingDecision {
  if (decision.review || !sampledForTraining(input.id, input.caption, result, share)) return decision;
  return { review: true, reasons: [SAMPLED_REASON] };
}
