/** The image layer: sources (inline, URL, file) and CLIP preprocessing for untrusted input. */
export { preprocess, preprocessBatch, type Preprocessed, type PreprocessHooks, type DecodeEstimate, type PreprocessOptions, type PreprocessedBatch, type BatchItem } from './preprocess.js';
export { resizePlan, roundHalfEven, type ResizePlan } from './geometry.js';
export { sniffFormat, type SniffedFormat } from './sniff.js';
export {
  DEFAULT_IMAGE_OPTIONS,
  checkImageOptions,
  checkPreprocessSpec,
  imageOptions,
  type ImageOptions,
  type ImageOptionsInput,
  type FetchOptions,
  type PreprocessSpec,
  type Rgb,
} from './options.js';
export { Limiter } from './pool.js';
export { resolveImage, type ImageSource, type ResolvedImage, type ResolveOptions } from './resolve.js';
export { isInternalAddress, addressRange } from './address.js';
