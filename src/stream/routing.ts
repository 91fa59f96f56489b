/**
 * Routing rules: which scored images go to the review topic. A label set names its rule; the
 * "calibrated" rule uses thresholds measured by `clipn calibrate` on that label set's ID data.
 */
import { ClipnError } from '../errors.js';

/** The rules a label set may name. */
export const ROUTING_RULES = ['ctw', 'atd', 'both', 'either', 'calibrated'] as const;
export type RoutingRule = (typeof ROUTING_RULES)[number];

/** What the router needs of a scored image. */
export interface RoutableScore {
  scores: { ctw: number; atd: number };
  ood: { ctw: boolean; atd: boolean };
}

/** Calibrated ID-score thresholds: below a threshold the image is OOD by that score. */
export interface Thresholds {
  ctw?: number | null;
  atd?: number | null;
}

/** The routing decision, with the reasons a reviewer reads. */
export interface RoutingDecision {
  review: boolean;
  reasons: string[];
}

/** Decides whether one scored image goes to review under `rule`. */
export function route(rule: RoutingRule, result: RoutableScore, thresholds?: Thresholds | null): RoutingDecision {
  const reasons: string[] = [];
  if (rule === 'calibrated') {
    const ctw = thresholds?.ctw ?? null;
    const atd = thresholds?.atd ?? null;
    if (ctw === null && atd === null) {
      throw new ClipnError('LABEL_SET_INVALID', 'routing rule "calibrated" needs thresholds.ctw or thresholds.atd');
    }
    if (ctw !== null && result.scores.ctw < ctw) reasons.push(`ctw ${fmt(result.scores.ctw)} < calibrated ${fmt(ctw)}`);
    if (atd !== null && result.scores.atd < atd) reasons.push(`atd ${fmt(result.scores.atd)} < calibrated ${fmt(atd)}`);
    return { review: reasons.length > 0, reasons };
  }
  if (result.ood.ctw) reasons.push(`ctw: p_no > p_yes for the predicted class (score ${fmt(result.scores.ctw)})`);
  if (result.ood.atd) reasons.push(`atd: p_ood > max class probability (score ${fmt(result.scores.atd)})`);
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
