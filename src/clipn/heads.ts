/**
 * Class heads from a label set (reference/CLIPN.md): for each label, every template is encoded
 * by the yes and the no tower, each embedding L2-normalised, summed over templates, and the sum
 * L2-normalised. Texts already in the cache are not encoded again. Texts go to the encoders as
 * unpadded token rows, which run them at their true length (batched by token count) where the
 * bundle's text graphs allow it. The towers run one after the other: each already uses every
 * intra-op thread, and two at once would only contend for the same cores.
 */
import type { ClipnEncoders, ClipTokenizer, TokenRow } from '../model/index.js';
import type { EmbeddingCache } from './embedding-cache.js';
import { formatTemplate } from './label-set.js';
import type { Heads } from './scorer.js';

/** What head building needs of the model. */
export interface HeadContext {
  encoders: ClipnEncoders;
  tokenizer: ClipTokenizer;
  cache: EmbeddingCache;
  modelVersion: string;
  prompt: Float32Array;
  promptVersion: string;
}

/** How many texts were encoded (cache misses) per tower while building. */
export interface HeadBuildStats {
  encodedYes: number;
  encodedNo: number;
}

function normalizeInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i]! * v[i]!;
  const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
  for (let i = 0; i < v.length; i++) v[i]! *= inv;
  return v;
}

async function towerEmbeddings(
  ctx: HeadContext,
  tower: 'yes' | 'no',
  pairs: Array<{ template: string; label: string }>,
  tokens: Map<string, TokenRow>,
): Promise<{ rows: Float32Array[]; encoded: number }> {
  const dim = ctx.encoders.embedDim;
  const promptVersion = tower === 'no' ? ctx.promptVersion : '';
  const rows: Array<Float32Array | undefined> = await Promise.all(
    pairs.map((p) => ctx.cache.get({ modelVersion: ctx.modelVersion, tower, promptVersion, ...p }, dim)),
  );
  const missing = rows.flatMap((r, i) => (r === undefined ? [i] : []));
  if (missing.length > 0) {
    const ids = missing.map((i) => {
      const text = formatTemplate(pairs[i]!.template, pairs[i]!.label);
      let row = tokens.get(text);
      if (row === undefined) tokens.set(text, (row = ctx.tokenizer.encodeOne(text)));
      return row;
    });
    const out = tower === 'yes' ? await ctx.encoders.encodeTextRows(ids) : await ctx.encoders.encodeTextRowsNo(ids, ctx.prompt);
    await Promise.all(
      missing.map(async (row, j) => {
        const emb = out.slice(j * dim, (j + 1) * dim);
        rows[row] = emb;
        await ctx.cache.set({ modelVersion: ctx.modelVersion, tower, promptVersion, ...pairs[row]! }, emb);
      }),
    );
  }
  return { rows: rows as Float32Array[], encoded: missing.length };
}

/** Builds W_yes and W_no for `labels` with the template ensemble. */
export async function buildHeads(ctx: HeadContext, labels: readonly string[], templates: readonly string[]): Promise<{ heads: Heads; stats: HeadBuildStats }> {
  const dim = ctx.encoders.embedDim;
  const pairs = labels.flatMap((label) => templates.map((template) => ({ template, label })));
  // Both towers tokenize the same texts: once is enough.
  const tokens = new Map<string, TokenRow>();
  const yes = await towerEmbeddings(ctx, 'yes', pairs, tokens);
  const no = await towerEmbeddings(ctx, 'no', pairs, tokens);
  const wYes = new Float32Array(labels.length * dim);
  const wNo = new Float32Array(labels.length * dim);
  for (let c = 0; c < labels.length; c++) {
    const sumYes = new Float32Array(dim);
    const sumNo = new Float32Array(dim);
    for (let t = 0; t < templates.length; t++) {
      const y = normalizeInPlace(Float32Array.from(yes.rows[c * templates.length + t]!));
      const n = normalizeInPlace(Float32Array.from(no.rows[c * templates.length + t]!));
      for (let d = 0; d < dim; d++) {
        sumYes[d]! += y[d]!;
        sumNo[d]! += n[d]!;
      }
    }
    wYes.set(normalizeInPlace(sumYes), c * dim);
    wNo.set(normalizeInPlace(sumNo), c * dim);
  }
  return { heads: Object.freeze({ labels: [...labels], dim, yes: wYes, no: wNo }), stats: { encodedYes: yes.encoded, encodedNo: no.encoded } };
}
