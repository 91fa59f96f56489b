/**
 * Scores image files in batches: reads and decodes in parallel (sharp's pool), embeds a batch,
 * scores it. A file that cannot be read or decoded yields an error result; the rest go on.
 */
import { readFile } from 'node:fs/promises';
import { ClipnClassifier, type ImageScore, type PreparedLabelSet } from '../../clipn/index.js';
import { toClipnError, type ClipnError } from '../../errors.js';

export type FileResult = { file: string; score: ImageScore } | { file: string; error: ClipnError };

export async function* scoreFiles(
  classifier: ClipnClassifier,
  prepared: PreparedLabelSet,
  files: readonly string[],
  batch: number,
): AsyncGenerator<FileResult> {
  for (let start = 0; start < files.length; start += batch) {
    const chunk = files.slice(start, start + batch);
    const decoded = await Promise.all(
      chunk.map(async (file) => {
        try {
          const bytes = await readFile(file).catch((e: NodeJS.ErrnoException) => {
            throw toClipnError(e, e.code === 'ENOENT' ? 'IMAGE_NOT_FOUND' : 'IMAGE_DECODE_FAILED');
          });
          return { file, tensor: (await classifier.decode(bytes)).tensor };
        } catch (error) {
          return { file, error: toClipnError(error, 'IMAGE_DECODE_FAILED') };
        }
      }),
    );
    const ok = decoded.filter((d): d is { file: string; tensor: Float32Array } => 'tensor' in d);
    const scores = ok.length > 0 ? classifier.score(await classifier.embed(ClipnClassifier.stack(ok.map((d) => d.tensor)), ok.length), ok.length, prepared) : [];
    let k = 0;
    for (const d of decoded) {
      if ('tensor' in d) yield { file: d.file, score: scores[k++]! };
      else yield { file: d.file, error: d.error };
    }
  }
}
