/**
 * Cold label sets through the text towers, side by side on one bundle: texts at their true
 * token length (buildHeads, the path the sidecar takes: sorted by length, batched by length)
 * against every text padded to all 77 positions (the path before the dynamic sequence axis, the
 * same graph fed 77 positions). No Kafka: the head building itself is timed.
 */
import { buildHeads, EmbeddingCache, formatTemplate } from '../src/clipn/index.js';
import { ClipnEncoders, ClipTokenizer, loadBundle, readPrompt } from '../src/model/index.js';
import { labelNames } from './label-sets.js';
import { summarize, type Summary } from './stats.js';

export interface TextLengthPlan {
  labels: number;
  /** The 77-position run encodes every `padStride`-th label only (its cost is linear in the count at a fixed length). */
  padStride: number;
  /** Labels x all templates for the full-ensemble rate. */
  ensembleLabels: number;
  rounds: number;
  threads: number;
  maxBatch: number;
}

export interface TextLengthResults {
  labels: number;
  template: string;
  meanTokens: number;
  /** Seconds for the whole cold set (both towers) at the true length, one value per round. */
  trueLength: Summary;
  /** Seconds for the whole cold set at 77 positions, extrapolated from every padStride-th label. */
  padded: Summary;
  padStride: number;
  ensemble: { templates: number; labels: number; texts: number; perText: Summary; meanTokens: number };
  textLengths: { yes: string; no: string };
}

function cache(): EmbeddingCache {
  return new EmbeddingCache({ maxEntries: 1_000_000, dir: null });
}

export async function measureTextLength(dir: string, templates: readonly string[], plan: TextLengthPlan, log: (m: string) => void): Promise<TextLengthResults> {
  const bundle = await loadBundle(dir);
  const encoders = await ClipnEncoders.load(bundle, { executionProviders: ['cpu'], intraOpThreads: plan.threads, interOpThreads: 1, graphOptimization: 'all', maxBatch: plan.maxBatch });
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  const prompt = await readPrompt(bundle);
  const ctx = (c: EmbeddingCache) => ({ encoders, tokenizer, cache: c, modelVersion: bundle.manifest.modelVersion, prompt, promptVersion: 'bench' });
  const template = templates[0]!;
  const trueLength: number[] = [];
  const padded: number[] = [];
  let meanTokens = 0;
  try {
    // Warm-up: a few texts through both paths (session start-up costs are not the label set's).
    await buildHeads(ctx(cache()), labelNames(4, 'warm'), [template]);
    await encoders.encodeTexts(tokenizer.encode(['warm']), 1);
    for (let r = 0; r < plan.rounds; r++) {
      // New names every round: nothing cached.
      const labels = labelNames(plan.labels, `t${r}`);
      const texts = labels.map((l) => formatTemplate(template, l));
      meanTokens = texts.reduce((a, t) => a + tokenizer.encodeOne(t).length, 0) / texts.length;
      let t0 = performance.now();
      const { stats } = await buildHeads(ctx(cache()), labels, [template]);
      trueLength.push((performance.now() - t0) / 1000);
      if (stats.encodedYes !== labels.length || stats.encodedNo !== labels.length) throw new Error(`cold set encoded ${stats.encodedYes}/${stats.encodedNo} texts, expected ${labels.length}`);
      const sample = texts.filter((_, i) => i % plan.padStride === 0);
      const ids = tokenizer.encode(sample);
      t0 = performance.now();
      await encoders.encodeTexts(ids, sample.length);
      await encoders.encodeTextsNo(ids, sample.length, prompt);
      padded.push(((performance.now() - t0) / 1000) * (texts.length / sample.length));
      log(`  ${labels.length} labels x 1 template: true length ${trueLength[r]!.toFixed(1)} s, 77 positions ${padded[r]!.toFixed(1)} s (from ${sample.length} labels), mean ${meanTokens.toFixed(1)} tokens`);
    }
    // The full ensemble: every template for a few labels, per-text rate at the true length.
    const perText: number[] = [];
    const elabels = labelNames(plan.ensembleLabels, 'ens');
    const etexts = elabels.flatMap((l) => templates.map((t) => formatTemplate(t, l)));
    const eTokens = etexts.reduce((a, t) => a + tokenizer.encodeOne(t).length, 0) / etexts.length;
    for (let r = 0; r < plan.rounds; r++) {
      const t0 = performance.now();
      await buildHeads(ctx(cache()), labelNames(plan.ensembleLabels, `ens${r}`), templates);
      perText.push((performance.now() - t0) / 1000 / (2 * etexts.length));
    }
    log(`  ${plan.ensembleLabels} labels x ${templates.length} templates: ${(summarize(perText).median * 1000).toFixed(2)} ms per text (mean ${eTokens.toFixed(1)} tokens)`);
    return {
      labels: plan.labels, template, meanTokens, trueLength: summarize(trueLength), padded: summarize(padded), padStride: plan.padStride,
      ensemble: { templates: templates.length, labels: plan.ensembleLabels, texts: 2 * etexts.length, perText: summarize(perText), meanTokens: eTokens },
      textLengths: encoders.textLengths,
    };
  } finally {
    await encoders.release();
  }
}
