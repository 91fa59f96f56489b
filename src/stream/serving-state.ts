/**
 * What the processor serves with: the classifier (model and prompt version) and the prepared
 * label sets. Replaced whole, never mutated: a message takes one snapshot and is scored with
 * it, so a swap in the middle of a batch cannot mix versions.
 */
import type { ClipnClassifier, PreparedLabelSet } from '../clipn/index.js';

export interface ServingSnapshot {
  readonly classifier: ClipnClassifier;
  readonly labelSets: ReadonlyMap<string, PreparedLabelSet>;
}

export class ServingState {
  private snapshot: ServingSnapshot;
  private readonly listeners: Array<(s: ServingSnapshot) => void> = [];

  constructor(classifier: ClipnClassifier) {
    this.snapshot = Object.freeze({ classifier, labelSets: new Map() });
  }

  get current(): ServingSnapshot {
    return this.snapshot;
  }

  /** Adds or replaces one label set, if it was prepared for the classifier still serving. */
  putLabelSet(prepared: PreparedLabelSet): boolean {
    if (prepared.promptVersion !== this.snapshot.classifier.promptVersion) return false;
    const labelSets = new Map(this.snapshot.labelSets);
    labelSets.set(prepared.labelSet.id, prepared);
    this.replace({ classifier: this.snapshot.classifier, labelSets });
    return true;
  }

  removeLabelSet(id: string): void {
    const labelSets = new Map(this.snapshot.labelSets);
    labelSets.delete(id);
    this.replace({ classifier: this.snapshot.classifier, labelSets });
  }

  /** Swaps model and every label set at once (a model release). */
  replaceAll(classifier: ClipnClassifier, labelSets: ReadonlyMap<string, PreparedLabelSet>): void {
    this.replace({ classifier, labelSets: new Map(labelSets) });
  }

  onChange(listener: (s: ServingSnapshot) => void): void {
    this.listeners.push(listener);
  }

  private replace(next: ServingSnapshot): void {
    this.snapshot = Object.freeze(next);
    for (const l of this.listeners) l(this.snapshot);
  }
}
