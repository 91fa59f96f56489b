/** Execution providers ONNX Runtime can be asked for; config lists them in order of preference. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu'] as const;
/** An ONNX Runtime execution provider. */
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];
