/**
 * Training samples from the stream: a share of the captioned inputs that no rule routed and no
 * flag calls OOD also go to review, as in-distribution training pairs for the trainer. (Which
 * images go to review as outliers is the label set's routing rule: src/plugin.)
 */
import { createHash } from 'node:crypto';
import type { RoutableScore, RoutingDecision } from '../plugin/index.js';

/** The reason a captioned in-distribution input is in the review topic: a training pair, not an outlier. */
export const SAMPLED_REASON = 'sampled';

/**
 * Whether a captioned input the rule did not route, and that neither flag calls OOD, is also sent
 * to review as an ID training pair: a `share` of them, chosen by a hash of the id (the same id is
 * always chosen the same way, on every replica and after a replay). With a `salt` (the secret
 * trainer.splitSalt) whoever picks ids cannot tell which are chosen.
 */
export function sampledForTraining(id: string, caption: string | null, result: RoutableScore, share: number, salt: string | null = null): boolean {
  if (share <= 0 || caption === null || caption.trim().length === 0 || result.ood.ctw || result.ood.atd) return false;
  const key = salt === null ? 'clipn-sample' : `clipn-sample:${salt}`;
  const unit = createHash('sha256').update(`${key}:${id}`).digest().readUInt32BE(0) / 2 ** 32;
  return unit < share;
}

/** `decision`, or for an unrouted input chosen by {@link sampledForTraining} a review with reason "sampled". */
export function withTrainingSample(decision: RoutingDecision, input: { id: string; caption: string | null }, result: RoutableScore, share: number, salt: string | null = null): RoutingDecision {
  if (decision.review || !sampledForTraining(input.id, input.caption, result, share, salt)) return decision;
  return { review: true, reasons: [SAMPLED_REASON] };
}
