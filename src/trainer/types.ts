/** Public types of the trainer: stored review data, joined samples, runs and their outcomes. */
import type { RegressionMetrics } from './regression-gate.js';

/** How a reviewer decided (schemas/ReviewDecision.avsc). */
export type DecisionKind = 'is_class' | 'none_of_labels' | 'new_concept';

/** Whether a sample is in-distribution (one of the labels) or not. */
export type SampleKind = 'id' | 'ood';

/** Training split, or held out for the gate. */
export type Split = 'train' | 'heldout';

/** What the store keeps of a ReviewItem: what training and evaluation need, never pixels. */
export interface StoredItem {
  readonly id: string;
  /** L2-normalised image embedding. */
  readonly embedding: Float32Array;
  /** The request's caption, if any. */
  readonly caption: string | null;
  /** The class the serving model predicted. */
  readonly predicted: string;
  /** True when the sidecar sent it only as captioned ID traffic (reason "sampled"), not as an outlier. */
  readonly sampled: boolean;
  readonly labelSet: { readonly id: string; readonly version: number; readonly labels: readonly string[] };
  readonly promptVersion: string;
  readonly createdAt: number;
}

/** What the store keeps of a ReviewDecision. */
export interface StoredDecision {
  readonly itemId: string;
  readonly decision: DecisionKind;
  readonly label: string | null;
  readonly concept: string | null;
  readonly caption: string | null;
  readonly reviewer: string | null;
  readonly decidedAt: number;
}

/** A joined training/evaluation sample; `embedding`, `text`, `group`, `kind` are what the kernel reads. */
export interface Sample {
  readonly id: string;
  readonly embedding: Float32Array;
  /** Training text (caption or templated label); null: image only. */
  readonly text: string | null;
  /** Class label or new-concept name; samples of one group are never each other's negatives. */
  readonly group: string | null;
  readonly kind: SampleKind;
  /** When the reviewer decided; null for sampled captioned traffic without a decision. */
  readonly decidedAt: number | null;
  readonly split: Split;
  /** decision: a reviewer's verdict; sampled: captioned ID traffic (its group is the model's own prediction). */
  readonly source: 'decision' | 'sampled';
  /** The label set the item was scored against. */
  readonly labelSetId: string;
  readonly labels: readonly string[];
}

/** Counts the store reports (and persists across restarts). */
export interface StoreCounts {
  /** Joined samples (a decision and its item, or a sampled captioned item). */
  readonly samples: number;
  /** Items without a decision that are no sample on their own. */
  readonly pendingItems: number;
  /** Decisions whose item has not arrived. */
  readonly pendingDecisions: number;
  /** Samples new or changed since the last run that reached the gate (published or refused). */
  readonly newSinceRun: number;
  /** Samples new or changed since the last published release. */
  readonly newSincePublished: number;
}

/** What the gate measures on the held-out split for one prompt. */
export interface GateMetrics {
  readonly atdAuroc: number;
  readonly ctwAuroc: number;
  readonly atdFpr95: number;
  readonly ctwFpr95: number;
  /** Share of reviewer-labelled held-out ID samples predicted as their label; null when there are none. */
  readonly idAccuracy: number | null;
  readonly heldOutId: number;
  readonly heldOutOod: number;
  readonly accuracySamples: number;
}

/** The gate's verdict. */
export interface GateDecision {
  readonly publish: boolean;
  /** Why not, one line each (empty when published). */
  readonly reasons: readonly string[];
}

/** How a run ended. */
export type RunStatus = 'published' | 'refused' | 'no_samples';

/** The outcome of one training run. */
export interface RunOutcome {
  readonly status: RunStatus;
  /** The published release version (published only). */
  readonly version: string | null;
  readonly servingVersion: string | null;
  readonly candidate: GateMetrics | null;
  readonly serving: GateMetrics | null;
  /** Both models on the regression set (null when no candidate was trained). */
  readonly regression: { readonly candidate: RegressionMetrics; readonly serving: RegressionMetrics } | null;
  readonly reasons: readonly string[];
  readonly sampleCount: number;
}

/** One progress event of the kernel (--log-json). */
export interface KernelEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** The kernel's result.json. */
export interface KernelResult {
  readonly mode: 'prompts' | 'no-tower';
  readonly baseModelVersion: string;
  readonly samples: { total: number; withText: number; id: number; ood: number };
  readonly epochs: number;
  readonly lossCurve: readonly number[];
  readonly args: Readonly<Record<string, unknown>>;
  readonly seed: number;
  readonly device: string;
  readonly seconds: number;
  readonly files: Readonly<Record<string, { sha256: string; bytes: number }>>;
}
