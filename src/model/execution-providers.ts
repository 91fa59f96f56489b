/** Execution providers ONNX Runtime can be asked for; config lists them in order of preference. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu'] as const;
/** An ONNX Runtime execution provider. */
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** Which thread runs inference: a worker thread of its own (default) or the event loop's (see session-host.ts). */
export const INFERENCE_THREADS = ['worker', 'main'] as const;
/** One of {@link INFERENCE_THREADS}. */
export type InferenceThread = (typeof INFERENCE_THREADS)[number];
