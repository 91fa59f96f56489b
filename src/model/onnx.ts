/**
 * ONNX Runtime behind one module: nothing else in src/ imports onnxruntime-node. Sessions are
 * created with an ordered execution-provider preference; a provider that cannot load is
 * skipped only when a later one is listed, so `["cuda"]` fails loudly instead of quietly
 * running on the CPU.
 */
import * as ort from 'onnxruntime-node';
import { ClipnError } from '../errors.js';
import type { ExecutionProvider } from './execution-providers.js';

/** Execution providers the runtime knows how to ask for. */

/** Session options, from config. */
export interface OnnxOptions {
  /** In order of preference; later entries are fallbacks. */
  executionProviders: readonly ExecutionProvider[];
  /** 0 lets ONNX Runtime choose. */
  intraOpThreads: number;
  interOpThreads: number;
  graphOptimization: 'disabled' | 'basic' | 'extended' | 'all';
  /** ONNX Runtime's CPU memory arena: freed activation buffers are kept for reuse (default true). */
  cpuMemArena?: boolean;
  /**
   * Memory patterns: ONNX Runtime plans one activation block per distinct set of input shapes
   * and keeps the plan (default true). Worth it for fixed shapes; graphs fed many shapes (the
   * text towers at every length) grow a plan per shape.
   */
  memPattern?: boolean;
  /**
   * Whether idle intra-op threads spin before they sleep (ONNX Runtime's default, true). Spinning
   * shortens the hand-off between operators but burns the cores that image decoding shares with
   * inference in `clipn serve` (bench/RESULTS.md measures both).
   */
  intraOpSpinning?: boolean;
}

export const DEFAULT_ONNX_OPTIONS: Readonly<OnnxOptions> = Object.freeze({
  executionProviders: ['cpu'] as const,
  intraOpThreads: 0,
  interOpThreads: 0,
  graphOptimization: 'all',
  cpuMemArena: true,
  memPattern: true,
});

/** An input tensor: float32 or int64 data with its dims. */
export type Feed = { type: 'float32'; data: Float32Array; dims: readonly number[] } | { type: 'int64'; data: BigInt64Array; dims: readonly number[] };

/** A float32 output with its dims. */
export interface Output {
  data: Float32Array;
  dims: readonly number[];
}

/** One loaded graph. */
export interface OnnxSession {
  readonly path: string;
  /** The provider the session runs on. */
  readonly provider: ExecutionProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Each input's shape as the graph declares it: numbers for fixed axes, names for dynamic ones (empty when unknown). */
  readonly inputShapes: Readonly<Record<string, readonly (number | string)[]>>;
  run(feeds: Record<string, Feed>): Promise<Record<string, Output>>;
  release(): Promise<void>;
}

/** The providers this onnxruntime-node build can load (CUDA/TensorRT only with their binaries installed). */
export function availableProviders(): Array<{ name: string; bundled: boolean }> {
  return ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
}

function sessionOptions(options: OnnxOptions, provider: ExecutionProvider): ort.InferenceSession.SessionOptions {
  const o: ort.InferenceSession.SessionOptions = { executionProviders: [provider], graphOptimizationLevel: options.graphOptimization };
  if (options.intraOpThreads > 0) o.intraOpNumThreads = options.intraOpThreads;
  if (options.interOpThreads > 0) o.interOpNumThreads = options.interOpThreads;
  if (options.cpuMemArena !== undefined) o.enableCpuMemArena = options.cpuMemArena;
  if (options.memPattern !== undefined) o.enableMemPattern = options.memPattern;
  o.extra = {
    // Residual add + LayerNorm stay two ops (as export writes them): ONNX Runtime's CPU
    // SkipLayerNormalization took about 3x as long as Add + LayerNormalization (bench/RESULTS.md).
    optimization: { disable_specified_optimizers: 'SkipLayerNormFusion' },
    ...(options.intraOpSpinning === false ? { session: { intra_op: { allow_spinning: '0' } } } : {}),
  };
  return o;
}

/** Loads `path` on the first provider of the preference list that works. */
export function createSession(path: string, options: OnnxOptions = DEFAULT_ONNX_OPTIONS): Promise<OnnxSession> {
  return create(path, path, options);
}

/**
 * Loads a graph already in memory (`name` labels it in errors): bytes verified once are the
 * bytes loaded, with no second read of a file that could have changed in between.
 */
export function createSessionFromBytes(graph: Uint8Array, name: string, options: OnnxOptions = DEFAULT_ONNX_OPTIONS): Promise<OnnxSession> {
  return create(graph, name, options);
}

async function create(source: string | Uint8Array, path: string, options: OnnxOptions): Promise<OnnxSession> {
  if (options.executionProviders.length === 0) {
    throw new ClipnError('CONFIG_INVALID', 'model.executionProviders: expected at least one of cuda, tensorrt, webgpu, cpu, got an empty list');
  }
  const failures: string[] = [];
  for (const provider of options.executionProviders) {
    try {
      const opts = sessionOptions(options, provider);
      const session = typeof source === 'string' ? await ort.InferenceSession.create(source, opts) : await ort.InferenceSession.create(source, opts);
      return wrap(path, provider, session);
    } catch (error) {
      failures.push(`${provider}: ${firstLine((error as Error).message)}`);
    }
  }
  const tried = options.executionProviders.join(', ');
  const code = failures.length === options.executionProviders.length && !options.executionProviders.includes('cpu') ? 'EXECUTION_PROVIDER_UNAVAILABLE' : 'MODEL_LOAD_FAILED';
  throw new ClipnError(code, `${path}: no requested execution provider could load it (tried ${tried}): ${failures.join('; ')}`, {
    details: { path, tried: [...options.executionProviders], failures },
  });
}

function firstLine(message: string): string {
  // ONNX Runtime prefixes messages with ANSI colour codes and long source paths.
  return message.replace(/\u001b\[[0-9;]*m/g, '').split('\n')[0]?.slice(0, 300) ?? message;
}

function wrap(path: string, provider: ExecutionProvider, session: ort.InferenceSession): OnnxSession {
  return {
    path,
    provider,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    inputShapes: Object.fromEntries(session.inputMetadata.map((m) => [m.name, m.isTensor ? [...m.shape] : []])),
    async run(feeds) {
      const tensors: Record<string, ort.Tensor> = {};
      for (const [name, feed] of Object.entries(feeds)) tensors[name] = new ort.Tensor(feed.type, feed.data, feed.dims);
      let results: ort.InferenceSession.OnnxValueMapType;
      try {
        results = await session.run(tensors);
      } catch (error) {
        throw new ClipnError('INFERENCE_FAILED', `${path}: ${firstLine((error as Error).message)}`, { cause: error });
      }
      const out: Record<string, Output> = {};
      for (const [name, value] of Object.entries(results)) {
        const tensor = value as ort.Tensor;
        out[name] = { data: tensor.data as Float32Array, dims: tensor.dims };
      }
      return out;
    },
    release: () => session.release(),
  };
}
