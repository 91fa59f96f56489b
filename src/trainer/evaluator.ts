/**
 * Scores held-out samples and the regression set with the project's own TypeScript scoring (the
 * same heads and scorer the sidecar serves with), once per model: the serving one and the candidate.
 */
import { scoreImages, type ClipnClassifier, type ImageScore, type LabelSet } from '../clipn/index.js';
import { ClipnError } from '../errors.js';
import { gateMetrics } from './gate.js';
import { regressionMetrics, type RegressionMetrics, type SourceScores } from './regression-gate.js';
import type { RegressionPart } from './regression-set.js';
import type { GateMetrics, Sample } from './types.js';

/**
 * Held-out metrics of `classifier` (a prompt, and for a no-tower release its tower) on `samples`
 * against `labelSet`: ATD/CTW AUROC and FPR95 with the ID samples as positives and the OOD
 * samples as negatives, and ID accuracy over the reviewer-labelled ID samples whose label is in
 * the label set.
 */
export async function evaluateClassifier(classifier: ClipnClassifier, labelSet: LabelSet, samples: readonly Sample[]): Promise<GateMetrics> {
  const prepared = await classifier.prepare(labelSet);
  const dim = prepared.heads.dim;
  const embeds = new Float32Array(samples.length * dim);
  samples.forEach((s, i) => {
    if (s.embedding.length !== dim) {
      throw new ClipnError('TRAINER_SAMPLES_INVALID', `sample ${s.id}: embedding has ${s.embedding.length} values, the model's is ${dim}`);
    }
    embeds.set(s.embedding, i * dim);
  });
  // Raw CLIPN scores: calibrated thresholds change decisions, not scores, so AUROC ignores them.
  // Ranked by log-odds: the probabilities saturate and tie.
  const scores = scoreImages(embeds, samples.length, prepared.heads, { logitScale: classifier.bundle.manifest.scoring.logitScale, topK: 1 });
  const id: Array<{ atd: number; ctw: number }> = [];
  const ood: Array<{ atd: number; ctw: number }> = [];
  const correct: boolean[] = [];
  const labels = new Set(labelSet.labels);
  samples.forEach((s, i) => {
    const r = scores[i]!;
    (s.kind === 'id' ? id : ood).push({ atd: r.scores.atdLogOdds, ctw: r.scores.ctwLogOdds });
    if (s.kind === 'id' && s.source === 'decision' && s.group !== null && labels.has(s.group)) correct.push(r.label === s.group);
  });
  return gateMetrics({ id, ood, correct });
}

/**
 * Regression metrics of `classifier` against `labelSet` on each part of the regression set: each
 * concept's OOD images against the part's ID images, and ID accuracy. ID images labelled with a
 * class outside the label set, and concepts that are labels of it, are left out (not ID, not OOD
 * for this label set).
 */
export async function evaluateRegression(classifier: ClipnClassifier, labelSet: LabelSet, parts: readonly RegressionPart[]): Promise<RegressionMetrics> {
  const prepared = await classifier.prepare(labelSet);
  const dim = prepared.heads.dim;
  const labels = new Set(labelSet.labels);
  const score = (embeddings: readonly Float32Array[]): ImageScore[] => {
    const flat = new Float32Array(embeddings.length * dim);
    embeddings.forEach((e, i) => {
      if (e.length !== dim) throw new ClipnError('TRAINER_SAMPLES_INVALID', `regression set: an embedding has ${e.length} values, the model's is ${dim}`);
      flat.set(e, i * dim);
    });
    return scoreImages(flat, embeddings.length, prepared.heads, { logitScale: classifier.bundle.manifest.scoring.logitScale, topK: 1 });
  };
  const sources: SourceScores[] = parts.map((part) => {
    const keep = part.id.truth.map((t) => t === null || labels.has(t));
    const idScores = score(part.id.embeddings.filter((_, i) => keep[i]));
    const truth = part.id.truth.filter((_, i) => keep[i]);
    const correct = idScores.flatMap((r, i) => (truth[i] === null ? [] : [r.label === truth[i]]));
    const concepts = new Map<string, number[]>();
    for (const [name, embeddings] of part.concepts) if (!labels.has(name)) concepts.set(name, score(embeddings).map((r) => r.scores.atdLogOdds));
    return { source: part.source, id: idScores.map((r) => r.scores.atdLogOdds), concepts, correct };
  });
  return regressionMetrics(sources);
}
