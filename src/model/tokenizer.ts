/**
 * CLIP tokenizer: the bundle's tokenizer.json run by @huggingface/tokenizers, with open_clip's
 * framing. The JSON covers NFC, curly quotes, common ligatures, whitespace and lower case; the
 * rest of open_clip's cleaning (ftfy's fixes, html.unescape twice), which the format cannot
 * express, happens here first (text-clean.ts).
 */
import { readFile } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';
import { ClipnError } from '../errors.js';
import type { Bundle } from './bundle.js';
import { cleanText } from './text-clean.js';

/** Tokenizes texts into [N, contextLength] int64 ids, identical to open_clip's. */
export class ClipTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    readonly contextLength: number,
    private readonly eot: number,
  ) {}

  /** Loads the tokenizer a bundle ships. */
  static async fromBundle(bundle: Bundle): Promise<ClipTokenizer> {
    const { file, contextLength, eotTokenId } = bundle.manifest.tokenizer;
    try {
      const json = JSON.parse(await readFile(bundle.path(file), 'utf8')) as object;
      return new ClipTokenizer(new Tokenizer(json, {}), contextLength, eotTokenId);
    } catch (error) {
      throw new ClipnError('TOKENIZER_FAILED', `${bundle.path(file)}: cannot load the tokenizer: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Ids of one text: start, BPE ids, end; cut to contextLength with the end token kept last. */
  encodeOne(text: string): number[] {
    const ids = this.tokenizer.encode(cleanText(text)).ids;
    if (ids.length > this.contextLength) {
      ids.length = this.contextLength;
      ids[this.contextLength - 1] = this.eot;
    }
    return ids;
  }

  /** [N * contextLength] int64 ids, zero padded. */
  encode(texts: readonly string[]): BigInt64Array {
    const out = new BigInt64Array(texts.length * this.contextLength);
    texts.forEach((text, row) => {
      this.encodeOne(text).forEach((id, col) => (out[row * this.contextLength + col] = BigInt(id)));
    });
    return out;
  }
}
