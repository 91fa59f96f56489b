/** The image layer: sources (inline, URL, file) and CLIP preprocessing for untrusted input. */
export { preprocess, resizePlan, roundHalfEven, type Preprocessed } from './preprocess.js';
export { DEFAULT_IMAGE_OPTIONS, checkImageOptions, type ImageOptions, type FetchOptions, type PreprocessSpec } from './options.js';
export { Limiter } from './pool.js';
export { resolveUri, isInternalAddress } from './resolve.js';
