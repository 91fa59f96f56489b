/** The classifier a service serves or trains with: a bundle, its encoders and cache as config says. */
import { ClipnClassifier } from '../../clipn/index.js';
import type { Config } from '../../config/index.js';
import type { Logger } from '../../telemetry/logger.js';

/** Options of {@link loadServiceClassifier}. */
export interface ServiceClassifierOptions {
  /** The bundle folder (model.dir, already absolute). */
  readonly dir: string;
  /** Classes kept per result. */
  readonly topK: number;
}

/**
 * Loads and verifies the bundle in `dir` with the encoders (model.*, processing.maxBatch), image
 * limits and text-embedding cache of `config`, and logs what was loaded.
 * @throws ClipnError as ClipnClassifier.load (a bundle that does not verify, no execution provider).
 */
export async function loadServiceClassifier(config: Config, logger: Logger, options: ServiceClassifierOptions): Promise<ClipnClassifier> {
  // A large bundle takes seconds to verify and load: the line marks where the time goes.
  logger.info({ dir: options.dir, inferenceThread: config.model.inferenceThread }, 'loading the model');
  const classifier = await ClipnClassifier.load(options.dir, {
    encoders: { ...config.model, maxBatch: config.processing.maxBatch },
    images: config.images,
    cache: { dir: config.model.cacheDir, maxEntries: config.model.cacheEntries },
    topK: options.topK,
    progress: {
      verified: (model) => logger.info({ model }, 'model bundle verified'),
      graphLoaded: (file, ms) => logger.info({ file, ms: Math.round(ms) }, 'graph loaded'),
    },
  });
  logger.info({ model: classifier.modelVersion, prompt: classifier.promptVersion, provider: classifier.provider }, 'model loaded');
  return classifier;
}
