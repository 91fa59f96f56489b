/** The demo bundle's classifier as unit tests load it: CPU, default image options, an in-memory text cache. */
import { join } from 'node:path';
import { ClipnClassifier } from '../../src/clipn/index.js';
import { DEFAULT_IMAGE_OPTIONS } from '../../src/images/index.js';

/** Folder of the demo bundle. */
export const DEMO_BUNDLE = join(import.meta.dirname, '..', '..', 'models', 'demo');

/** Loads the demo classifier; `cacheDir` keeps text embeddings on disk (default: memory only). */
export function loadDemoClassifier(cacheDir: string | null = null): Promise<ClipnClassifier> {
  return ClipnClassifier.load(DEMO_BUNDLE, {
    encoders: { executionProviders: ['cpu'], intraOpThreads: 0, interOpThreads: 0, graphOptimization: 'all', maxBatch: 16 },
    images: DEFAULT_IMAGE_OPTIONS,
    cache: { dir: cacheDir, maxEntries: 10_000 },
    topK: 3,
  });
}
