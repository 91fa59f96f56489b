/**
 * The image tower's float32 matrix products on their own: one MatMul graph per shape in ONNX
 * Runtime (its CPU product kernel, weights pre-packed as in the model) against PyTorch's
 * F.linear at the same shape in the peer process, taking turns run by run. It separates the
 * product kernels from everything else in the graph when the encoder misses the sgemm ceiling.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, type ExecutionProvider } from '../src/model/index.js';
import type { VisionConfig } from './encoder.js';
import { randomFloats } from './random-inputs.js';
import type { PythonPeer } from './python.js';
import { summarize, timeRuns, type Summary } from './stats.js';

/** One product shape of the tower: (M, K) x (K, N), and how many of it one image runs. */
export interface ProductShape {
  name: string;
  k: number;
  n: number;
  perImage: number;
}

export interface ProductRow extends ProductShape {
  m: number;
  ort: Summary;
  torch: Summary;
}

export interface ProductResults {
  batch: number;
  rows: ProductRow[];
}

/** The per-layer linear products of a ViT image tower (QKV, attention output, MLP in and out). */
export function towerProducts(c: VisionConfig): ProductShape[] {
  const d = c.width;
  return [
    { name: 'QKV projection', k: d, n: 3 * d, perImage: c.layers },
    { name: 'attention output', k: d, n: d, perImage: c.layers },
    { name: 'MLP in', k: d, n: c.mlpRatio * d, perImage: c.layers },
    { name: 'MLP out', k: c.mlpRatio * d, n: d, perImage: c.layers },
  ];
}

/** GFLOP/s of one (M, K) x (K, N) product at `seconds`. */
export const productGflops = (m: number, k: number, n: number, seconds: number): number => (2 * m * k * n) / seconds / 1e9;

export async function compareProducts(
  py: PythonPeer<unknown>,
  c: VisionConfig,
  plan: { batch: number; reps: number; threads: number; device: ExecutionProvider; dir: string },
): Promise<ProductResults> {
  mkdirSync(plan.dir, { recursive: true });
  const tokens = (c.imageSize / c.patchSize) ** 2 + 1;
  const m = plan.batch * tokens;
  const rows: ProductRow[] = [];
  for (const shape of towerProducts(c)) {
    const path = join(plan.dir, `matmul-${shape.k}x${shape.n}.onnx`);
    await py.call(`matmul-graph ${shape.k} ${shape.n} ${path}`);
    const session = await createSession(path, { executionProviders: [plan.device], intraOpThreads: plan.threads, interOpThreads: 1, graphOptimization: 'all' });
    const x = { type: 'float32' as const, data: randomFloats(m * shape.k), dims: [m, shape.k] };
    const ort: number[] = [];
    const torch: number[] = [];
    try {
      for (let r = 0; r < plan.reps; r++) {
        // As in the encoder comparison: each timed run after an untimed one of the same side.
        ort.push(productGflops(m, shape.k, shape.n, (await timeRuns(1, () => session.run({ x }), 1))[0]!));
        torch.push(productGflops(m, shape.k, shape.n, (await py.call<{ seconds: number }>(`linear ${m} ${shape.k} ${shape.n}`)).seconds));
      }
    } finally {
      await session.release();
    }
    rows.push({ ...shape, m, ort: summarize(ort), torch: summarize(torch) });
  }
  return { batch: plan.batch, rows };
}

/**
 * Time per image of the listed products at each side's median rate, and what the encoder's
 * ORT/PyTorch ratio would be if ONNX Runtime's products ran at PyTorch's rate with the rest unchanged.
 */
export function productSeconds(p: ProductResults, side: 'ort' | 'torch'): number {
  return p.rows.reduce((a, r) => a + (r.perImage * 2 * (r.m / p.batch) * r.k * r.n) / (r[side].median * 1e9), 0);
}
