/**
 * Texts the kernel can train on. A model with a vocabulary subset (the demo model) has no row for
 * other tokens, and the kernel refuses a whole samples file over one such word; so a caption with
 * a word outside the vocabulary is left out (the sample stays, image only) instead.
 */
import { ClipTokenizer, type Bundle } from '../model/index.js';

/** A predicate that is true for texts made only of tokens the model knows; null when every token is known. */
export async function knownTextFilter(bundle: Bundle): Promise<((text: string) => boolean) | null> {
  const textCfg = (bundle.manifest.architecture.config?.text_cfg ?? null) as { vocab_subset?: unknown } | null;
  const subset = textCfg?.vocab_subset;
  if (!Array.isArray(subset)) return null;
  const known = new Set<number>(subset.filter((x): x is number => typeof x === 'number'));
  known.add(bundle.manifest.tokenizer.sotTokenId);
  known.add(bundle.manifest.tokenizer.eotTokenId);
  const tokenizer = await ClipTokenizer.fromBundle(bundle);
  return (text) => tokenizer.encodeOne(text).every((id) => known.has(id));
}
