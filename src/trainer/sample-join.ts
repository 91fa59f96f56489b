/**
 * From a review item and its decision to a training sample: the text, group and kind a decision
 * means, and the split. Pure: the store calls it whenever samples are read.
 */
import { formatTemplate } from '../clipn/index.js';
import { splitOf } from './split.js';
import type { Sample, StoredDecision, StoredItem } from './types.js';

/** What joining needs besides the item and decision. */
export interface JoinOptions {
  /** Template for texts made from a label or concept (the bundle's first template, e.g. "a photo of a {}"). */
  readonly template: string;
  readonly heldOutShare: number;
  /** Secret key of the held-out split (see {@link splitOf}). */
  readonly salt: string;
  /** Sampled captioned items without a decision become ID pairs (trainer.trainOnSampled: unreviewed, so untrusted). */
  readonly trainOnSampled: boolean;
}

/**
 * The sample an item makes with its decision, or null when it makes none (an outlier nobody has
 * decided on yet). Text: the decision's caption; else, for is_class, the request's caption (the
 * reviewer confirmed the image is what the caption describes) or the templated label; for
 * new_concept the templated concept; for none_of_labels none (image only).
 * A sampled, captioned item without a decision is an ID pair only with `trainOnSampled` (nobody
 * reviewed it: its id, caption and embedding are whatever the producer sent); its group is the
 * model's own prediction, so it is never used to measure accuracy.
 */
export function joinSample(item: StoredItem, decision: StoredDecision | undefined, options: JoinOptions): Sample | null {
  const base = { id: item.id, embedding: item.embedding, split: splitOf(item.id, options.heldOutShare, options.salt), labelSetId: item.labelSet.id, labels: item.labelSet.labels };
  if (decision === undefined) {
    if (!options.trainOnSampled || !item.sampled || item.caption === null) return null;
    return { ...base, text: item.caption, group: item.predicted, kind: 'id', decidedAt: null, source: 'sampled' };
  }
  const caption = nonBlank(decision.caption);
  switch (decision.decision) {
    case 'is_class': {
      const label = nonBlank(decision.label) ?? item.predicted;
      return { ...base, text: caption ?? nonBlank(item.caption) ?? formatTemplate(options.template, label), group: label, kind: 'id', decidedAt: decision.decidedAt, source: 'decision' };
    }
    case 'new_concept': {
      const concept = nonBlank(decision.concept);
      return { ...base, text: caption ?? (concept === null ? null : formatTemplate(options.template, concept)), group: concept, kind: 'ood', decidedAt: decision.decidedAt, source: 'decision' };
    }
    case 'none_of_labels':
      return { ...base, text: caption, group: null, kind: 'ood', decidedAt: decision.decidedAt, source: 'decision' };
  }
}

function nonBlank(s: string | null): string | null {
  return s === null || s.trim().length === 0 ? null : s.trim();
}
