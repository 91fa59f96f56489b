/** The model layer: bundles, ONNX Runtime sessions, the tokenizer and the encoders. */
export { loadBundle, readPrompt, readTemplates, checkPrompt, float32FromBytes, sha256File, type Bundle } from './bundle.js';
export { type Manifest } from './manifest.js';
export { createSession, availableProviders, DEFAULT_ONNX_OPTIONS, type OnnxOptions, type OnnxSession } from './onnx.js';
export { EXECUTION_PROVIDERS, INFERENCE_THREADS, type ExecutionProvider, type InferenceThread } from './execution-providers.js';
export { ClipTokenizer } from './tokenizer.js';
export { ClipnEncoders, type EncoderOptions, type GraphLoaded, type TokenRow } from './encoders.js';
