/**
 * Op-level time of an ONNX graph from ONNX Runtime's own profiler (session option
 * enableProfiling): the JSON trace's node events summed by op type. Uses onnxruntime-node
 * directly because src/model/onnx.ts does not expose profiling.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { randomPixels } from './random-inputs.js';

export interface OpProfile {
  batch: number;
  runs: number;
  totalMs: number;
  ops: Array<{ op: string; ms: number; share: number; nodes: number }>;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

export async function profileImageGraph(graph: string, size: number, batch: number, runs: number, threads: number, dir: string, provider = 'cpu'): Promise<OpProfile> {
  mkdirSync(dir, { recursive: true });
  const prefix = join(dir, `ort-${Date.now()}`);
  const session = await ort.InferenceSession.create(graph, {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    enableProfiling: true,
    profileFilePrefix: prefix,
  });
  const x = new ort.Tensor('float32', randomPixels(batch, size), [batch, 3, size, size]);
  try {
    for (let i = 0; i < runs; i++) await session.run({ [session.inputNames[0]!]: x });
    session.endProfiling();
  } finally {
    await session.release();
  }
  const base = prefix.split('/').pop()!;
  const file = readdirSync(dir).filter((f) => f.startsWith(base) && f.endsWith('.json')).sort().pop();
  if (!file) throw new Error(`ONNX Runtime wrote no profile named ${base}*.json in ${dir}`);
  const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as TraceEvent[];
  rmSync(join(dir, file));
  const byOp = new Map<string, { us: number; nodes: Set<string> }>();
  let total = 0;
  for (const e of events) {
    // Node events come in fence_before / kernel_time / fence_after; kernel_time is the op itself.
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !e.args?.op_name) continue;
    const entry = byOp.get(e.args.op_name) ?? { us: 0, nodes: new Set<string>() };
    entry.us += e.dur ?? 0;
    entry.nodes.add(e.name);
    byOp.set(e.args.op_name, entry);
    total += e.dur ?? 0;
  }
  const ops = [...byOp].map(([op, v]) => ({ op, ms: v.us / 1000 / runs, share: v.us / Math.max(total, 1), nodes: v.nodes.size })).sort((a, b) => b.ms - a.ms);
  return { batch, runs, totalMs: total / 1000 / runs, ops };
}
