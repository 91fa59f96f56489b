/**
 * Image-encoder throughput: onnxruntime-node through the project's own model code (bundle
 * loader with checksums, ClipnEncoders) for the fp32 and int8 bundles and PyTorch eager on the
 * same threads (bench/torch-encoder.py, a peer process), taking turns run by run so all see the
 * same machine load; the sgemm ceiling sampled in every round beside them, in PyTorch (oneMKL)
 * and in ONNX Runtime's own kernel (MLAS); FLOPs of the ViT image tower.
 */
import { join } from 'node:path';
import { ClipnEncoders, loadBundle, type ExecutionProvider } from '../src/model/index.js';
import { randomPixels } from './random-inputs.js';
import { openOrtSgemm } from './ort-sgemm.js';
import { ROOT, startPythonPeer } from './python.js';
import { summarize, timeRuns, type Summary } from './stats.js';

export interface VisionConfig {
  imageSize: number;
  patchSize: number;
  width: number;
  layers: number;
  mlpRatio: number;
  embedDim: number;
}

/** FLOPs per image by where they run: the patch convolution, the linear products, and the attention scores and value products. */
export interface FlopParts {
  patch: number;
  /** QKV projections of all layers. */
  qkv: number;
  /** Attention output and MLP products of all layers, and the final projection. */
  linear: number;
  /** QK^T and AV of all layers. */
  scores: number;
}

/** Multiply-adds counted as 2 FLOPs; LayerNorm, softmax, GELU and adds left out (< 1%). */
export function vitImageFlops(c: VisionConfig): { total: number; formula: string; tokens: number; parts: FlopParts } {
  const n = (c.imageSize / c.patchSize) ** 2 + 1;
  const d = c.width;
  const patch = 2 * (n - 1) * 3 * c.patchSize ** 2 * d;
  const perLayer = 2 * n * d * 3 * d + 2 * n * d * d + 2 * 2 * n * d * c.mlpRatio * d + 2 * 2 * n * n * d;
  const proj = 2 * d * c.embedDim;
  const total = patch + c.layers * perLayer + proj;
  const formula =
    `N = (S/P)^2 + 1 = (${c.imageSize}/${c.patchSize})^2 + 1 = ${n} tokens, D = ${d}, L = ${c.layers}, MLP ${c.mlpRatio}D; ` +
    `FLOPs = 2(N-1)(3P^2)D [patches] + L(2N·D·3D [qkv] + 2N·D·D [out] + 4N·D·${c.mlpRatio}D [mlp] + 4N^2·D [QK^T, AV]) + 2D·E [proj] ` +
    `= ${(patch / 1e9).toFixed(3)} + ${c.layers} x ${(perLayer / 1e9).toFixed(3)} + ${(proj / 1e9).toFixed(4)} = ${(total / 1e9).toFixed(2)} GFLOP per image`;
  const parts = {
    patch,
    qkv: c.layers * 2 * n * d * 3 * d,
    linear: c.layers * (2 * n * d * d + 2 * 2 * n * d * c.mlpRatio * d) + proj,
    scores: c.layers * 2 * 2 * n * n * d,
  };
  return { total, formula, tokens: n, parts };
}

export function visionConfig(raw: Record<string, unknown>): VisionConfig {
  const v = raw.vision_cfg as Record<string, number>;
  return {
    imageSize: v.image_size!,
    patchSize: v.patch_size!,
    width: v.width!,
    layers: v.layers!,
    mlpRatio: v.mlp_ratio ?? 4,
    embedDim: raw.embed_dim as number,
  };
}

export interface EncoderPlan {
  batches: number[];
  reps: number[];
  threads: number;
  device: ExecutionProvider;
  /** Seconds of timed runs per batch size and side, within the repetition limits. */
  budgetSeconds: number;
  /** Where the ONNX Runtime sgemm graph is written. */
  cacheDir: string;
}

/** Images/s per batch size, one value per timed run. */
export type Throughput = Record<string, Summary>;

export interface EncoderResults {
  ortFp32: Throughput;
  ortInt8: Throughput;
  torch: Throughput;
  torchVersion: string;
  torchThreads: number;
  sgemm: Summary & { size: number };
  /** The sgemm ceiling sampled once per round of each batch size, beside the runs it is compared with. */
  ceiling: Throughput;
  /** The same product in ONNX Runtime (its MLAS kernel), all samples and per batch size's rounds. */
  ortSgemm: Summary & { size: number };
  ortCeiling: Throughput;
  /** ONNX Runtime's sgemm over PyTorch's, paired round by round (both sampled back to back). */
  kernelRatio: Summary;
  /** ORT fp32 over PyTorch per batch size, paired round by round (each round's runs are seconds apart). */
  pairedRatio: Throughput;
  torchProfile: { batch: number; totalMs: number; ops: Array<{ op: string; ms: number; calls: number; share: number }> } | null;
  provider: string;
}

export async function loadEncoders(dir: string, plan: Pick<EncoderPlan, 'threads' | 'device'> & { spinning?: boolean }, maxBatch: number): Promise<ClipnEncoders> {
  const bundle = await loadBundle(dir);
  return ClipnEncoders.load(bundle, { executionProviders: [plan.device], intraOpThreads: plan.threads, interOpThreads: 1, graphOptimization: 'all', intraOpSpinning: plan.spinning ?? true, maxBatch, inferenceThread: 'main' });
}

/** Side of the square float32 product that sets the sgemm ceiling on both sides. */
const SGEMM_N = 4096;

export async function measureEncoders(fp32Dir: string, int8Dir: string, plan: EncoderPlan, log: (m: string) => void): Promise<EncoderResults> {
  const maxBatch = Math.max(...plan.batches);
  // Spinning as a deployment runs (ONNX Runtime's default), for the encoders and the sgemm alike.
  const spinning = true;
  const fp32 = await loadEncoders(fp32Dir, { ...plan, spinning }, maxBatch);
  const int8 = await loadEncoders(int8Dir, { ...plan, spinning }, maxBatch);
  const mlas = await openOrtSgemm(plan.cacheDir, SGEMM_N, plan.threads, spinning, plan.device);
  const py = await startPythonPeer<{ torch: string; threads: number }>([
    join(ROOT, 'bench', 'torch-encoder.py'), '--config', 'ViT-B-16', '--threads', String(plan.threads), '--device', plan.device === 'cuda' ? 'cuda' : 'cpu', '--matmul', String(SGEMM_N),
  ]);
  const ortFp32: Throughput = {};
  const ortInt8: Throughput = {};
  const torch: Throughput = {};
  const ceiling: Throughput = {};
  const ortCeiling: Throughput = {};
  const sgemm: number[] = [];
  const ortSgemm: number[] = [];
  const kernelRatios: number[] = [];
  const pairedRatio: Throughput = {};
  const sgemmSample = async (): Promise<number> => {
    const r = await py.call<{ gflops: number }>('sgemm');
    sgemm.push(r.gflops);
    return r.gflops;
  };
  await sgemmSample();
  let torchProfile: EncoderResults['torchProfile'] = null;
  try {
    for (const [i, batch] of plan.batches.entries()) {
      const x = randomPixels(batch, fp32.imageSize);
      const [a, b, c, d, o]: number[][] = [[], [], [], [], []];
      // ORT fp32, ORT int8 and PyTorch take turns, so all three see the same machine. Each timed
      // run follows an untimed one of the same session: the previous side's threads spin on
      // for a while after its run and would otherwise take the 2 CPUs from the first run after
      // a switch (measured: int8 at batch 1 took 118 ms a run alternated one by one with fp32,
      // 77 ms run after run). A deployment runs one image session.
      const timed = async (e: ClipnEncoders): Promise<number> => (await timeRuns(1, () => e.encodeImages(x, batch), 1))[0]!;
      // Repetitions fit a time budget (at least 3, at most reps[i]): the first timed round sets the pace.
      let reps = plan.reps[i]!;
      for (let r = 0; r < reps; r++) {
        a.push(batch / (await timed(fp32)));
        b.push(batch / (await timed(int8)));
        c.push(batch / (await py.call<{ seconds: number }>(`encode ${batch}`)).seconds);
        // The ceiling drifts with the machine's load as the runs do: sampled in every round.
        d.push(await sgemmSample());
        o.push(await mlas.sample());
        ortSgemm.push(o[o.length - 1]!);
        if (r === 0) reps = Math.max(Math.min(3, reps), Math.min(reps, Math.floor(plan.budgetSeconds / (batch / a[0]! + batch / b[0]! + batch / c[0]!))));
      }
      [ortFp32[batch], ortInt8[batch], torch[batch], ceiling[batch], ortCeiling[batch]] = [summarize(a), summarize(b), summarize(c), summarize(d), summarize(o)];
      kernelRatios.push(...o.map((v, k) => v / d[k]!));
      pairedRatio[batch] = summarize(a.map((v, k) => v / c[k]!));
      log(`batch ${batch}: ORT fp32 ${ortFp32[batch]!.median.toFixed(2)}, int8 ${ortInt8[batch]!.median.toFixed(2)}, PyTorch ${torch[batch]!.median.toFixed(2)} images/s`);
    }
    torchProfile = (await py.call<{ profile: NonNullable<EncoderResults['torchProfile']> }>('profile 8')).profile;
    await sgemmSample();
  } finally {
    await fp32.release();
    await int8.release();
    await py.close();
    await mlas.release();
  }
  return {
    ortFp32, ortInt8, torch, torchVersion: py.ready.torch, torchThreads: py.ready.threads,
    sgemm: { ...summarize(sgemm), size: SGEMM_N }, ceiling, ortSgemm: { ...summarize(ortSgemm), size: SGEMM_N }, ortCeiling, kernelRatio: summarize(kernelRatios), pairedRatio, torchProfile, provider: plan.device,
  };
}
