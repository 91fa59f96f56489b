/** bench/RESULTS.md from one run's measurements: tables first, then each target and what limits it. */
import type { EncoderResults, FlopParts } from './encoder.js';
import type { LabelResults } from './label-sets.js';
import type { Machine } from './machine.js';
import { Markdown } from './markdown.js';
import type { OpProfile } from './ort-profile.js';
import { imageMallocTunables } from './serve.js';
import { writePerfSections, type PerfReport } from './report-perf.js';
import type { ServeRun } from './serve.js';
import type { EventLoopSpan } from './sidecar-process.js';
import { LATENCY_BUCKETS_MS } from '../src/telemetry/index.js';
import { fmt, num, type Summary } from './stats.js';

export interface Int8Quality {
  fp32: { idAccuracy: number; ctwAuroc: number; atdAuroc: number; idImages: number; perSet: Record<string, { ctw: number; atd: number; images: number }> };
  int8: Int8Quality['fp32'];
  cosine: { images: number; median: number; min: number; p01: number };
}

export interface RunReport {
  command: string;
  quick: boolean;
  startedAt: string;
  seconds: number;
  machine: Machine;
  threads: number;
  /** ONNX Runtime intra-op spinning (model.intraOpSpinning) for the bare encoder and serve. */
  spinning: boolean;
  /** Where `clipn serve` ran inference (model.inferenceThread). */
  inferenceThread: 'worker' | 'main';
  device: string;
  bundle: { dir: string; modelVersion: string; bytes: number; runtimeBytes: number; int8ImageBytes: number; fp32ImageBytes: number; exportSeconds: number | null };
  flops: { total: number; formula: string; parts: FlopParts };
  encoder?: EncoderResults;
  /** Op profiles at batch 8, and at batch 1 where int8's gain is smallest. */
  profiles?: { fp32: OpProfile; int8: OpProfile; batch1?: { fp32: OpProfile; int8: OpProfile } };
  quality?: Int8Quality;
  bare?: { batch: number; rate: Summary; decodeShare: number };
  serve?: ServeRun[];
  labels?: LabelResults & { extrapolation: { templates: number; texts: number; seconds: number } };
  notes: string[];
  serveModel?: string;
  servedBundle?: { bytes: number; runtimeBytes: number };
  perf?: PerfReport;
}

const MATMUL_OPS = new Set(['MatMul', 'FusedMatMul', 'Gemm', 'Conv', 'DynamicQuantizeMatMul', 'MatMulInteger', 'QGemm']);
const pts = (a: number): string => `${num(a * 100, 2)} points`;
const pct = (a: number): string => `${num(a * 100, 3)}%`;
const mib = (b: number): string => `${num(b / 2 ** 20, 4)} MiB`;

const ATTENTION_OPS = new Set(['Attention', 'QAttention', 'MultiHeadAttention']);

/** The op table, and the rate of the product ops from the FLOPs that run in them. */
function opTable(md: Markdown, p: OpProfile, f: FlopParts): void {
  md.table(['op type', 'nodes', 'ms per run', 'share'], p.ops.slice(0, 8).map((o) => [o.op, o.nodes, num(o.ms), pct(o.share)]));
  const msOf = (ops: Set<string>): number => p.ops.filter((o) => ops.has(o.op)).reduce((a, o) => a + o.ms, 0);
  const rate = (flops: number, ms: number): string => `${num((flops * p.batch) / (ms / 1000) / 1e9)} GFLOP/s`;
  const [mm, att] = [msOf(MATMUL_OPS), msOf(ATTENTION_OPS)];
  const head = `Batch ${p.batch}, ${p.runs} profiled run(s), ${num(p.totalMs)} ms of kernel time per run; matrix-product ops (MatMul, FusedMatMul, Gemm, Conv and their int8 forms) take ${pct(mm / p.totalMs)} of it`;
  if (att === 0) return void md.para(`${head}, at ${rate(f.patch + f.qkv + f.linear + f.scores, mm)} (every counted FLOP runs in them).`);
  md.para(`${head}, at ${rate(f.patch + f.linear, mm)} (patch convolution, attention output, MLP, projection); the fused attention nodes (QKV product, scores, softmax, value product) take ${pct(att / p.totalMs)}, at ${rate(f.qkv + f.scores, att)}.`);
}

// QAttention is not among them: its score, softmax and value products run in float32.
const QUANTIZED_OPS = ['DynamicQuantizeMatMul', 'MatMulInteger', 'DynamicQuantizeLinear', 'QGemm', 'MatMulIntegerToFloat'];

/** Op types of two profiles side by side (ms per run; 0 where a graph has none), slowest first. */
function mergeOps(a: OpProfile, b: OpProfile): Array<[string, number, number]> {
  const ops = new Set([...a.ops.map((o) => o.op), ...b.ops.map((o) => o.op)]);
  const ms = (p: OpProfile, op: string): number => p.ops.find((o) => o.op === op)?.ms ?? 0;
  return [...ops].map((op): [string, number, number] => [op, ms(a, op), ms(b, op)]).sort((x, y) => Math.max(y[1], y[2]) - Math.max(x[1], x[2]));
}

/** One span of the sidecar's event-loop delay histogram, in words. */
const loop = (e: EventLoopSpan): string =>
  e.ticks === 0 ? 'no data (no clipn_event_loop_delay samples)' : `${e.ticks} ticks, ${Number.isFinite(e.atMostMs) ? `none later than ${num(e.atMostMs)} ms` : `some later than ${num(LATENCY_BUCKETS_MS.at(-1)!)} ms (the largest bucket)`}, ${e.over100Ms} later than 100 ms`;

export function writeReport(r: RunReport): string {
  const md = new Markdown();
  const m = r.machine;
  const gf = r.flops.total / 1e9;
  md.heading(1, 'Benchmark results').para(
    `Written by \`${r.command}\`${r.quick ? ' (**--quick**: a smoke run with few repetitions; not for comparison)' : ''} on ${r.startedAt}, in ${num(r.seconds / 60)} minutes. ` +
      'Every figure is the median over repeated runs with min-max and the number of runs in brackets; each comparison was measured side by side in this one run on this one machine. Nothing in the test suite asserts a time.',
  );
  md.heading(2, 'Machine').table(['', ''], [
    ['CPU', `${m.cpu} (${m.cpuFlags})`], ['logical CPUs', m.logicalCpus], ['memory', `${num(m.memoryGiB)} GiB`], ['OS', m.os],
    ['Node.js', m.node], ['onnxruntime-node', m.onnxruntimeNode], ['onnxruntime (Python, for quantization and evaluation)', m.onnxruntimePython], ['PyTorch', m.torch],
    ['GPU', m.gpu], ['load average at start (1, 5, 15 min)', m.loadAverage.map((v) => v.toFixed(2)).join(', ')],
    ['threads', `${r.threads} intra-op threads for ONNX Runtime (inter-op 1; spinning ${r.spinning ? 'on' : 'off'}) and torch.set_num_threads(${r.threads}) for PyTorch`], ['device', r.device],
    ['clipn serve inference thread', `${r.inferenceThread} (model.inferenceThread; the bare encoder runs on the main thread)`],
  ]);
  md.para(`Model: ViT-B-16 CLIPN architecture with random weights (\`python -m clipn_kernel export --random-init --model-config ViT-B-16 --seed 0\`), bundle ${r.bundle.dir} (${r.bundle.modelVersion}${r.bundle.exportSeconds === null ? ', reused from an earlier run' : `, exported in ${num(r.bundle.exportSeconds)} s`}).`);
  md.para(`Image encoder FLOPs: ${r.flops.formula}.`);
  if (r.notes.length) md.bullets(r.notes);

  const e = r.encoder;
  if (e) {
    md.heading(2, '1. Image encoder: ONNX Runtime against PyTorch');
    const batches = Object.keys(e.ortFp32);
    // Each batch size against the ceiling sampled in its own rounds: the machine's speed drifts between batch sizes.
    const ceilingAt = (b: string): number => e.ceiling[b]?.median ?? e.sgemm.median;
    const mlasAt = (b: string): number => e.ortCeiling[b]?.median ?? e.ortSgemm.median;
    md.table(['batch', 'ORT fp32 images/s', 'PyTorch eager fp32 images/s', 'ORT / PyTorch', 'ORT / PyTorch paired by round', 'ORT GFLOP/s', 'PyTorch GFLOP/s', 'sgemm ceiling in these rounds, GFLOP/s', 'ORT share of sgemm ceiling', 'ONNX Runtime sgemm in these rounds, GFLOP/s', 'ORT share of its own sgemm'], batches.map((b) => [
      b, fmt(e.ortFp32[b]!), fmt(e.torch[b]!), `${num(e.ortFp32[b]!.median / e.torch[b]!.median)}x`, `${num(e.pairedRatio[b]!.median)}x (${num(e.pairedRatio[b]!.min)}-${num(e.pairedRatio[b]!.max)})`,
      num(e.ortFp32[b]!.median * gf), num(e.torch[b]!.median * gf), e.ceiling[b] ? fmt(e.ceiling[b]!) : 'n/a', pct((e.ortFp32[b]!.median * gf) / ceilingAt(b)),
      e.ortCeiling[b] ? fmt(e.ortCeiling[b]!) : 'n/a', pct((e.ortFp32[b]!.median * gf) / mlasAt(b)),
    ]));
    md.para(`Ceiling: ${e.sgemm.size}x${e.sgemm.size} float32 matrix product in PyTorch ${e.torchVersion} on ${e.torchThreads} threads, sampled in every round after ORT fp32, ORT int8 and PyTorch, and once before the first batch size (all samples: ${fmt(e.sgemm, 'GFLOP/s')}); each batch size's share is against the samples of its own rounds. ONNX Runtime's sgemm is the same product as a one-MatMul graph (weight as an initializer, pre-packed as a model's weights are; output pre-allocated, so no copy is timed) with the encoder sessions' thread options, sampled right after PyTorch's in every round (all samples: ${fmt(e.ortSgemm, 'GFLOP/s')}). PyTorch runs our CLIPN model's \`encode_image\` (eval, no_grad, eager) in a peer process; ONNX Runtime runs the exported graph through \`loadBundle\` and \`ClipnEncoders.encodeImages\`, provider ${e.provider}. ORT fp32, ORT int8 and PyTorch take turns run by run, each timed run after an untimed one of the same side. The paired column is the median of each round's own ratio, whose runs are seconds apart: it follows the machine's drift between rounds, which the ratio of the two medians does not.`);
    const worst = Math.min(...batches.map((b) => e.ortFp32[b]!.median / e.torch[b]!.median));
    const share = Math.min(...batches.map((b) => (e.ortFp32[b]!.median * gf) / ceilingAt(b)));
    md.heading(3, `Target ORT fp32 >= 1.0x PyTorch at every batch and >= 85% of the sgemm ceiling: ${worst >= 1 && share >= 0.85 ? 'met' : `missed (lowest ${num(worst)}x, lowest share ${pct(share)})`}`);
    const torchAt = Math.max(...batches.map((b) => e.torch[b]!.median * gf));
    md.para(`Bound: at the sgemm ceiling ONNX Runtime could be at most ${num(e.sgemm.median / torchAt)}x the best PyTorch rate measured here (${num(torchAt)} GFLOP/s), since all but a fraction of a percent of the counted work is matrix products on either side.`);
    const k = e.kernelRatio;
    md.para(`Kernel: on the ${e.ortSgemm.size}x${e.ortSgemm.size} product, paired round by round, ONNX Runtime's own float32 kernel (MLAS, which runs every product of the encoder: MatMul, and the QKV, score and value products inside Attention) ran at a median ${pct(k.median)} of PyTorch's (${pct(k.min)}-${pct(k.max)}, n=${k.n}). That compares the two kernels on one large square product; it is not a bound for the encoder, whose own rate against it is in the last column.`);
    if (r.profiles) {
      md.para('ONNX Runtime op profile of the fp32 image graph (session option enableProfiling):');
      opTable(md, r.profiles.fp32, r.flops.parts);
    }
    if (e.torchProfile) {
      md.para(`PyTorch profiler, batch ${e.torchProfile.batch} (self CPU time, ${num(e.torchProfile.totalMs)} ms in all):`);
      md.table(['op', 'calls', 'ms', 'share'], e.torchProfile.ops.map((o) => [o.op, o.calls, num(o.ms), pct(o.share)]));
      const tp = e.torchProfile;
      const msOf = (op: string): number => tp.ops.find((o) => o.op === op)?.ms ?? Number.NaN;
      const rate = (flops: number, ms: number): string => `${num((flops * tp.batch) / (ms / 1000) / 1e9)} GFLOP/s`;
      const f = r.flops.parts;
      md.para(`PyTorch's \`addmm\` (every linear product: QKV, attention output, MLP, projection) runs at ${rate(f.qkv + f.linear, msOf('aten::addmm'))} and \`bmm\` (scores and value products) at ${rate(f.scores, msOf('aten::bmm'))}; compare ONNX Runtime's matrix-product ops above, whose QKV products run inside its Attention nodes.`);
    }
  }

  if (e && r.quality) {
    const q = r.quality;
    md.heading(2, '2. int8 image encoder (ONNX Runtime dynamic quantization)');
    const batches = Object.keys(e.ortInt8);
    md.table(['batch', 'ORT fp32 images/s', 'ORT int8 images/s', 'int8 / fp32'], batches.map((b) => [b, fmt(e.ortFp32[b]!), fmt(e.ortInt8[b]!), `${num(e.ortInt8[b]!.median / e.ortFp32[b]!.median)}x`]));
    md.para(`Image graph on disk: fp32 ${mib(r.bundle.fp32ImageBytes)}, int8 ${mib(r.bundle.int8ImageBytes)} (\`export --int8-image\`: MatMul/Gemm weights int8 per output channel, activations uint8 quantized per batch at run time; text graphs stay fp32; the manifest's \`precision\` is "int8" and each graph has its own \`precision\`). Both bundles were loaded with the TypeScript loader, which verified every checksum.`);
    md.para(`Quality on the demo model (models/demo, its int8 copy written under .cache/bench/), held-out images: ${q.fp32.idImages} ID, ${Object.values(q.fp32.perSet).reduce((a, s) => a + s.images, 0)} OOD in ${Object.keys(q.fp32.perSet).length} sets (AUROC is the mean over the sets):`);
    md.table(['', 'ID accuracy', 'CTW AUROC', 'ATD AUROC'], [
      ['fp32', pct(q.fp32.idAccuracy), num(q.fp32.ctwAuroc, 4), num(q.fp32.atdAuroc, 4)],
      ['int8', pct(q.int8.idAccuracy), num(q.int8.ctwAuroc, 4), num(q.int8.atdAuroc, 4)],
      ['int8 - fp32', pts(q.int8.idAccuracy - q.fp32.idAccuracy), pts(q.int8.ctwAuroc - q.fp32.ctwAuroc), pts(q.int8.atdAuroc - q.fp32.atdAuroc)],
    ]);
    md.para(`Cosine between fp32 and int8 image embeddings over ${q.cosine.images} held-out images: median ${num(q.cosine.median, 5)}, 1st percentile ${num(q.cosine.p01, 4)}, lowest ${num(q.cosine.min, 4)}.`);
    const speed = Math.max(...batches.map((b) => e.ortInt8[b]!.median / e.ortFp32[b]!.median));
    const lost = Math.max(q.fp32.ctwAuroc - q.int8.ctwAuroc, q.fp32.atdAuroc - q.int8.atdAuroc);
    md.heading(3, `Target int8 >= 2.5x fp32 with <= 0.3 AUROC points lost: ${speed >= 2.5 && lost <= 0.003 ? 'met' : 'missed'}`);
    md.bullets([
      `Speed: best ${num(speed)}x${speed >= 2.5 ? '' : `, ${num(2.5 - speed)}x short of 2.5x`}.`,
      `Accuracy: at most ${pts(lost)} of AUROC lost${lost <= 0.003 ? '' : `, ${pts(lost - 0.003)} over the 0.3-point budget`}. With ${Object.values(q.fp32.perSet)[0]?.images ?? 0} OOD images per set one image moves a per-set AUROC by up to ${pts(1 / Math.max(1, Object.values(q.fp32.perSet)[0]?.images ?? 1))}, so differences of this size are at the resolution of the held-out sets.`,
    ]);
    if (r.profiles) {
      const int8Bound = (fp32: OpProfile, int8: OpProfile, batch: number): string => {
        const quantized = int8.ops.filter((o) => QUANTIZED_OPS.includes(o.op)).reduce((a, o) => a + o.ms, 0);
        return `int8 op profile at batch ${batch}: the quantized products take ${pct(quantized / int8.totalMs)} of the run (${num(quantized)} ms); everything else (QAttention, whose QKV product is int8 but whose scores, softmax and value product are float32; GELU, LayerNorm, transposes, the patch convolution) takes ${num(int8.totalMs - quantized)} ms, which alone bounds int8 at ${num(fp32.totalMs / Math.max(int8.totalMs - quantized, 1e-9))}x the fp32 kernel time (${num(fp32.totalMs)} ms) even if the quantized products cost nothing; the kernel times give ${num(fp32.totalMs / int8.totalMs)}x.`;
      };
      md.para(int8Bound(r.profiles.fp32, r.profiles.int8, 8));
      opTable(md, r.profiles.int8, r.flops.parts);
      const b1 = r.profiles.batch1;
      if (b1) {
        md.para(int8Bound(b1.fp32, b1.int8, 1));
        md.table(['op type', 'fp32 ms', 'int8 ms', 'fp32 / int8'], mergeOps(b1.fp32, b1.int8).map(([op, a, b]) => [op, num(a), num(b), b > 0 && a > 0 ? `${num(a / b)}x` : '']));
      }
    }
  }

  if (r.serve && r.bare) {
    const b = r.bare;
    md.heading(2, '3. Stream processor: clipn serve on the broker against the bare encoder');
    md.para(`Inputs: 640x480 JPEGs generated at bench time. \`clipn serve\` ran as a child process (CLIPN_* variables) on ${r.serveModel ?? 'the ViT-B-16 fp32 bundle'}, processing.maxBatch = ${b.batch}, against the local broker. Saturation: a backlog of images, rate from the end of the first batch to the last result. Latency: input record timestamp to result record timestamp, under a paced load of half the saturation rate. Bare encoder: the same preprocessing (sharp) and encoder (ClipnEncoders) at batch ${b.batch} in one process, batch after batch, no Kafka: ${fmt(b.rate, 'images/s')}, ${pct(b.decodeShare)} of its time in decoding.`);
    md.table(['maxWaitMs', 'serve images/s', 'of bare encoder', 'plumbing cost', 'offered load /s', 'p50 latency ms', 'p99 latency ms', 'mean batch', 'ready after s'], r.serve.map((s) => [
      s.maxWaitMs, fmt(s.saturation), pct(s.saturation.median / b.rate.median), pct(1 - s.saturation.median / b.rate.median), num(s.offeredPerSecond), fmt(s.p50), fmt(s.p99), num(s.meanBatch), num(s.readySeconds),
    ]));
    const stages = [...new Set(r.serve.flatMap((s) => Object.keys(s.stages)))];
    md.para('Per-image stage time in the sidecar during saturation (mean ms from the clipn_stage_duration histograms on /metrics; infer is a whole batch\'s run, attributed to each of its images):');
    md.table(['maxWaitMs', ...stages], r.serve.map((s) => [s.maxWaitMs, ...stages.map((k) => (s.stages[k] === undefined ? '' : num(s.stages[k]!)))]));
    const worst = Math.min(...r.serve.map((s) => s.saturation.median / b.rate.median));
    md.heading(3, `Target serve >= 93% of the bare encoder at every maxWaitMs: ${worst >= 0.93 ? 'met' : `missed (lowest ${pct(worst)}, ${pts(0.93 - worst)} short)`}`);
    // One batch's inference, from the bare encoder (decoding is a few percent of its time).
    const batchMs = (b.batch / b.rate.median) * 1000;
    const over = r.serve.filter((s) => s.p99.median > s.maxWaitMs + 2 * batchMs);
    md.heading(3, `Target p99 at half load <= maxWaitMs + 2 x one batch's inference (${num(batchMs)} ms for ${b.batch} images): ${over.length === 0 ? 'met' : `missed at maxWaitMs ${over.map((s) => s.maxWaitMs).join(', ')}`} (p99 ${r.serve.map((s) => `${num(s.p99.median)} ms at ${s.maxWaitMs}`).join(', ')})`);
    const s0 = r.serve[0]!;
    const perImageBare = 1000 / b.rate.median;
    md.para(`Event loop of the sidecar (clipn_event_loop_delay: how late its 100 ms watch timer fired; /healthz fails at telemetry.health.eventLoopBlockedMs, 10 s by default): ${r.serve.map((s) => `at maxWaitMs ${s.maxWaitMs}, during saturation ${loop(s.eventLoop.saturation)}; from start-up to the end of the phases ${loop(s.eventLoop.lifetime)}`).join('; ')}. The bound is a histogram bucket's upper edge.`);
    md.para(`Bare encoder: ${num(perImageBare)} ms per image. In the sidecar, one batch's inference takes ${num(s0.stages.infer ?? Number.NaN)} ms (mean batch ${num(s0.meanBatch)}: the infer histogram records a batch's run once for each of its images) and decoding ${num(s0.stages.decode ?? Number.NaN)} ms per image (decoding runs on libuv threads beside ONNX Runtime's threads on the same ${m.logicalCpus} CPUs). The sidecar decodes the next batch while the current one is inferred; the bare loop does one after the other, so serve can exceed it.`);
  }

  if (r.labels) {
    const l = r.labels;
    md.heading(2, `4. Label sets going live (text towers of ${r.serveModel ?? 'ViT-B-16'})`);
    md.para(`A LabelSet record of ${l.labels} new labels with ${l.templates} template(s) (${l.coldTexts} texts through the yes and no towers), then versions adding one label each with the text-embedding cache warm (${l.addedTexts} texts). Live = the label-set version gauge on /metrics shows the version, timed from the broker's acknowledgement of the record; build = the sidecar's own head-building time from its "label-set applied" log line.`);
    md.table(['', 'live after s', 'build s', 'texts encoded'], [
      [`cold, ${l.labels} labels x ${l.templates} template(s)`, fmt(l.cold), fmt(l.coldBuild), l.coldTexts],
      ['one added label, warm cache', fmt(l.added), fmt(l.addedBuild), l.addedTexts],
    ]);
    const x = l.extrapolation;
    md.para(`Per text (yes and no tower counted separately): ${fmt({ ...l.perText, median: l.perText.median * 1000, min: l.perText.min * 1000, max: l.perText.max * 1000 }, 'ms')}. The full ${x.templates}-template ensemble (the bundle's templates.txt) for ${l.labels} labels is ${x.texts} texts: about ${num(x.seconds / 60)} minutes cold at that rate; the 80-template ensemble is ${2 * l.labels * 80} texts, about ${num((2 * l.labels * 80 * l.perText.median) / 60)} minutes (heads are built off the hot path; the previous version serves meanwhile).`);
    const addMs = l.added.median * 1000;
    md.heading(3, `Target one added label live in < 1 s: ${addMs < 1000 ? `met (${num(addMs)} ms)` : `missed (${num(addMs)} ms, ${num(addMs - 1000)} ms over)`}`);
    md.para(`Event loop of the sidecar over the label-set rounds (clipn_event_loop_delay): ${loop(l.eventLoop)}; texts are tokenized on the main thread and encoded in the inference worker.`);
    md.para(`Of the ${num(addMs)} ms, ${num(l.addedBuild.median * 1000)} ms is head building (cache lookups for every label, ${l.addedTexts} texts encoded, normalising and summing ${l.labels + 1} heads); the rest is the side channel (consumer fetch, decode, swap) and the 5 ms polling of /metrics.`);
  }

  if (r.serve) {
    md.heading(2, '5. Memory');
    md.table(['maxWaitMs', 'RSS when ready', 'RSS after the image phases', 'peak RSS (VmHWM)'], r.serve.map((s) => [s.maxWaitMs, `${num(s.memory.idleMiB, 4)} MiB`, `${num(s.memory.afterImagesMiB, 4)} MiB`, `${num(s.memory.peakMiB, 4)} MiB`]));
    const sb = r.servedBundle ?? r.bundle;
    md.para(`Bundle served (${r.serveModel ?? 'ViT-B-16 fp32'}) on disk: ${mib(sb.bytes)} in all, of which ${mib(sb.runtimeBytes)} is what serve loads (the three ONNX graphs, tokenizer, prompt, templates; checkpoint.pt is only hashed). Peak RSS / loaded files: ${num(Math.max(...r.serve.map((s) => s.memory.peakMiB)) * 2 ** 20 / sb.runtimeBytes)}x. \`clipn serve\` ran with \`GLIBC_TUNABLES=${imageMallocTunables()}\`, as the container image sets it (Dockerfile, docs/deploy.md): a fixed mmap threshold returns the large buffers freed after a graph loads to the system, which glibc otherwise keeps in the inference worker's arena.${r.labels ? ' The last row\'s peak includes the label-set phase.' : ''}`);
  }

  if (r.perf) writePerfSections(md, r.perf, m);

  md.heading(2, '11. GPU');
  md.para('`bash bench/gpu.sh` runs the same encoder and serve measurements with the CUDA execution provider and PyTorch on CUDA as the peer. It refuses to run (non-zero exit, a message) when CUDA is not available to either side; it never falls back to the CPU. It could not be run for these results: this machine has no GPU. On this CPU-only machine the project\'s own `model.executionProviders: ["cuda"]` fails with EXECUTION_PROVIDER_UNAVAILABLE, which is what the script checks first.');
  return md.toString();
}
