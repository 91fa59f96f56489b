/**
 * The sgemm ceiling of ONNX Runtime's own float32 product kernel (MLAS): one square MatMul graph
 * with its weight as an initializer (pre-packed, as a model's weights are), run with the encoder
 * sessions' thread options into a pre-allocated output so that no JavaScript copy is timed. Uses
 * onnxruntime-node directly because src/model/onnx.ts does not take pre-allocated outputs.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ROOT, runPython } from './python.js';

export interface OrtSgemm {
  /** One untimed and one timed product; GFLOP/s of the timed one. */
  sample(): Promise<number>;
  release(): Promise<void>;
}

export async function openOrtSgemm(cacheDir: string, n: number, threads: number, spinning: boolean, provider = 'cpu'): Promise<OrtSgemm> {
  const path = join(cacheDir, `matmul-${n}.onnx`);
  // Seeded, so a graph written by an earlier run is the same graph.
  if (!existsSync(path)) await runPython([join(ROOT, 'bench', 'matmul-graph.py'), '--n', String(n), '--out', path]);
  const session = await ort.InferenceSession.create(path, {
    executionProviders: [provider], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  });
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [n, n]);
  const y = new ort.Tensor('float32', new Float32Array(n * n), [n, n]);
  const once = async (): Promise<number> => {
    const t0 = process.hrtime.bigint();
    await session.run({ A: a }, { Y: y });
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  return {
    async sample() {
      await once();
      return (2 * n ** 3) / (await once()) / 1e9;
    },
    release: () => session.release(),
  };
}
