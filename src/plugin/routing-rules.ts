/**
 * The built-in routing rules, on the plugin API: ctw and atd send an image to review when that
 * CLIPN flag says OOD, both and either combine the two flags, calibrated compares the log-odds
 * with the thresholds `clipn calibrate` measured for the label set.
 */
import type { RoutingRule, ScoreThresholds } from '../clipn/index.js';
import { ClipnError } from '../errors.js';
import type { RoutingDecision, RoutingRulePlugin } from './types.js';

/** What the built-in rules read of a scored image. */
export interface RoutableScore {
  scores: { ctwLogOdds: number; atdLogOdds: number };
  ood: { ctw: boolean; atd: boolean };
}

const fmt = (x: number): string => x.toFixed(4);

/** Decides whether one scored image goes to review under a built-in `rule`. */
export function decideBuiltin(rule: RoutingRule, result: RoutableScore, thresholds?: ScoreThresholds | null): RoutingDecision {
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

/** A built-in rule as a plugin rule. */
export function builtinRule(rule: RoutingRule): RoutingRulePlugin {
  return {
    decide: ({ score, labelSet }) => decideBuiltin(rule, score, labelSet.thresholds),
    check: (_params, labelSet) =>
      rule === 'calibrated' && labelSet.thresholds?.ctwLogOdds == null && labelSet.thresholds?.atdLogOdds == null ? 'routing rule "calibrated" needs thresholds (run clipn calibrate)' : null,
  };
}
