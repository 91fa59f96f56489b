/** Scores every image of a folder, keeping failures apart (eval and calibrate share this). */
import { basename, dirname } from 'node:path';
import type { ClipnClassifier, ImageScore, PreparedLabelSet } from '../../clipn/index.js';
import type { ClipnError } from '../../errors.js';
import { expandPaths } from './paths.js';
import { scoreFiles } from './score-files.js';

export interface FolderScores {
  files: string[];
  scores: ImageScore[];
  failures: Array<{ file: string; error: ClipnError }>;
}

export async function scoreFolder(classifier: ClipnClassifier, prepared: PreparedLabelSet, folder: string, batch: number): Promise<FolderScores> {
  const out: FolderScores = { files: [], scores: [], failures: [] };
  for await (const r of scoreFiles(classifier, prepared, await expandPaths([folder]), batch)) {
    if ('error' in r) out.failures.push({ file: r.file, error: r.error });
    else {
      out.files.push(r.file);
      out.scores.push(r.score);
    }
  }
  return out;
}

/** The label a file's parent folder names (ID folders with one subfolder per label). */
export function folderLabel(file: string): string {
  return basename(dirname(file));
}
