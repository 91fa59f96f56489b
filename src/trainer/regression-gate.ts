/**
 * The regression gate: per-concept ATD AUROC and per-source ID accuracy of one model on the
 * regression set, and the rule that refuses a candidate when any of them falls more than a
 * margin below the serving model's. Pure functions; scoring is in evaluator.ts.
 */
import { auroc } from '../clipn/index.js';

/** One concept's numbers: AUROC of its OOD images against the ID images of the same source. */
export interface ConceptMetrics {
  readonly atdAuroc: number;
  /** OOD images of the concept. */
  readonly samples: number;
  /** ID images it is ranked against. */
  readonly idSamples: number;
}

/** What one model scores on the regression set. */
export interface RegressionMetrics {
  /** By `<source>/<concept>` (e.g. "bundle/crescent", "reviewed/crescent"). */
  readonly concepts: Readonly<Record<string, ConceptMetrics>>;
  /** ID accuracy by source, over the images whose true label is in the label set. */
  readonly idAccuracy: Readonly<Record<string, { readonly value: number; readonly samples: number }>>;
}

/** ATD log-odds of one source's images, and whether each labelled ID image was classified right. */
export interface SourceScores {
  readonly source: string;
  readonly id: readonly number[];
  readonly concepts: ReadonlyMap<string, readonly number[]>;
  readonly correct: readonly boolean[];
}

/** Regression metrics from scores (sources without ID images give no concept numbers). */
export function regressionMetrics(sources: readonly SourceScores[]): RegressionMetrics {
  const concepts: Record<string, ConceptMetrics> = {};
  const idAccuracy: Record<string, { value: number; samples: number }> = {};
  for (const s of sources) {
    if (s.id.length > 0) {
      for (const [name, ood] of s.concepts) {
        if (ood.length > 0) concepts[`${s.source}/${name}`] = { atdAuroc: auroc(s.id, ood), samples: ood.length, idSamples: s.id.length };
      }
    }
    if (s.correct.length > 0) idAccuracy[s.source] = { value: s.correct.filter(Boolean).length / s.correct.length, samples: s.correct.length };
  }
  return { concepts, idAccuracy };
}

/**
 * Reasons to refuse the candidate (none: it passes): a concept both models were measured on
 * with at least `minSamples` images (and ID images) whose ATD AUROC fell by more than `margin`,
 * or an ID accuracy (on at least `minSamples` images) that fell by more than `margin`.
 */
export function regressionReasons(candidate: RegressionMetrics, serving: RegressionMetrics, margin: number, minSamples: number): string[] {
  const reasons: string[] = [];
  const f = (x: number): string => x.toFixed(4);
  for (const [key, c] of Object.entries(candidate.concepts).sort(([a], [b]) => a.localeCompare(b))) {
    const s = serving.concepts[key];
    if (s === undefined || c.samples < minSamples || c.idSamples < minSamples) continue;
    if (!(c.atdAuroc >= s.atdAuroc - margin)) reasons.push(`regression: ${key} ATD AUROC ${f(c.atdAuroc)} < serving ${f(s.atdAuroc)} - margin ${margin}`);
  }
  for (const [source, c] of Object.entries(candidate.idAccuracy).sort(([a], [b]) => a.localeCompare(b))) {
    const s = serving.idAccuracy[source];
    if (s === undefined || c.samples < minSamples) continue;
    if (!(c.value >= s.value - margin)) reasons.push(`regression: ${source} ID accuracy ${f(c.value)} < serving ${f(s.value)} - margin ${margin}`);
  }
  return reasons;
}

/**
 * The regression numbers as lineage metrics: `concept.<key>.atdAuroc` and `.samples`,
 * `idAccuracy.<source>`, and the serving model's under `serving.` (what `clipn models list` shows).
 */
export function regressionLineage(candidate: RegressionMetrics, serving: RegressionMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [prefix, m] of [['', candidate], ['serving.', serving]] as const) {
    for (const [key, c] of Object.entries(m.concepts)) {
      if (Number.isFinite(c.atdAuroc)) out[`${prefix}concept.${key}.atdAuroc`] = c.atdAuroc;
      out[`${prefix}concept.${key}.samples`] = c.samples;
    }
    for (const [source, a] of Object.entries(m.idAccuracy)) out[`${prefix}idAccuracy.${source}`] = a.value;
  }
  return out;
}

/** Per-concept ATD AUROC of a release's lineage metrics, with the serving model's before it (for listing). */
export function conceptsOf(metrics: Readonly<Record<string, number>>): Array<{ concept: string; atdAuroc: number; before: number | null }> {
  const out: Array<{ concept: string; atdAuroc: number; before: number | null }> = [];
  for (const [k, v] of Object.entries(metrics)) {
    const m = /^concept\.(.+)\.atdAuroc$/.exec(k);
    if (m) out.push({ concept: m[1]!, atdAuroc: v, before: metrics[`serving.${k}`] ?? null });
  }
  return out.sort((a, b) => a.concept.localeCompare(b.concept));
}
