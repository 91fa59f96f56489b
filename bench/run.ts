/**
 * The benchmark suite (npm run bench): image encoder (ONNX Runtime against PyTorch, against the
 * sgemm ceiling of PyTorch and of ONNX Runtime's own kernel), int8, clipn serve on the broker against the bare encoder, label sets going
 * live, memory; writes bench/RESULTS.md. `--quick` is a short smoke run written elsewhere.
 *   npm run bench [-- --quick] [-- --device cuda] [-- --threads N] [-- --spinning on|off] [-- --inference-thread worker|main] [-- --out FILE] [-- --sections encoder,int8,serve,labels]
 * Graph-level sections (not in the default list; each loads its own variants side by side):
 * fusion (fused against traced image graph), textlen (cold label sets at the true token length
 * against 77 positions), int8methods (dynamic against static int8), memory (session options).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ClipnError } from '../src/errors.js';
import { createSession, loadBundle, type Bundle, type ExecutionProvider } from '../src/model/index.js';
import { testKafka, uniqueName } from '../test/integration/helpers/kafka.js';
import { loadEncoders, measureEncoders, visionConfig, vitImageFlops } from './encoder.js';
import { bareEncoder, makeJpegs } from './jpegs.js';
import { measureLabelSets, type LabelPlan } from './label-sets.js';
import { describeMachine } from './machine.js';
import { profileImageGraph, type OpProfile } from './ort-profile.js';
import { PYTHON, ROOT, runPython, runPythonPlain } from './python.js';
import { compareImageGraphs, measureMemory } from './graph-variants.js';
import { writeReport, type Int8Quality, type RunReport } from './report.js';
import { measureTextLength } from './text-length.js';
import { serveImages, type LiveServe, type ServePlan, type ServeRun } from './serve.js';
import { keepSoakSection } from './soak.js';

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    device: { type: 'string', default: 'cpu' },
    threads: { type: 'string' },
    out: { type: 'string' },
    sections: { type: 'string', default: 'encoder,int8,serve,labels' },
    'serve-model': { type: 'string' },
    // ONNX Runtime intra-op spinning for the bare encoder and `clipn serve` (model.intraOpSpinning).
    spinning: { type: 'string', default: 'on' },
    // Where `clipn serve` runs inference (model.inferenceThread); the bare encoder always runs on the main thread.
    'inference-thread': { type: 'string', default: 'worker' },
  },
});
const quick = opts.quick!;
const device = opts.device as ExecutionProvider;
if (device !== 'cpu' && device !== 'cuda') throw new Error(`--device: expected cpu or cuda, got ${opts.device}`);
const threads = Number(opts.threads ?? availableParallelism());
const sections = new Set(opts.sections!.split(','));
if (opts.spinning !== 'on' && opts.spinning !== 'off') throw new Error(`--spinning: expected on or off, got ${opts.spinning}`);
const spinning = opts.spinning === 'on';
// The sidecars the serve section starts inherit the environment.
process.env.CLIPN_MODEL__INTRA_OP_SPINNING = String(spinning);
const inferenceThread = opts['inference-thread'] as 'worker' | 'main';
if (inferenceThread !== 'worker' && inferenceThread !== 'main') throw new Error(`--inference-thread: expected worker or main, got ${opts['inference-thread']}`);
process.env.CLIPN_MODEL__INFERENCE_THREAD = inferenceThread;
const CACHE = join(ROOT, '.cache', 'bench');
const out = opts.out ?? (quick ? join(CACHE, `RESULTS.${device}.quick.md`) : join(ROOT, 'bench', device === 'cpu' ? 'RESULTS.md' : 'RESULTS.cuda.md'));
const started = performance.now();
const log = (m: string): void => void process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

/** A bundle's manifest as written, with the export's records the loader's Manifest type leaves out (fusion, quantization). */
const rawManifest = <T>(dir: string): T => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as T;

/** The random-init ViT-B-16 bundle, exported once into the cache (manifest written last, then renamed into place). */
async function vitBundle(): Promise<{ bundle: Bundle; exportSeconds: number | null }> {
  const dir = join(CACHE, 'vit-b-16-fp32');
  if (existsSync(join(dir, 'manifest.json'))) {
    try {
      const raw = rawManifest<{ graphs: { image: { fused?: { skipLayerNorm?: number } } } }>(dir);
      // Written by an export that still fused the residual adds into LayerNorm: measure what export writes now.
      if ((raw.graphs.image.fused?.skipLayerNorm ?? 0) === 0) return { bundle: await loadBundle(dir), exportSeconds: null };
      log(`cached bundle ${dir} was exported with SkipLayerNormalization nodes; exporting again`);
    } catch (error) {
      log(`cached bundle ${dir} fails verification (${(error as Error).message}); exporting again`);
    }
  }
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  log('exporting ViT-B-16 (random weights, seed 0) into the cache: a few minutes, once');
  const t0 = performance.now();
  await runPythonPlain(['-m', 'clipn_kernel', 'export', '--random-init', '--model-config', 'ViT-B-16', '--seed', '0', '--out', partial]);
  renameSync(partial, dir);
  return { bundle: await loadBundle(dir), exportSeconds: (performance.now() - t0) / 1000 };
}

/** The same ViT-B-16 weights exported without fusion (the traced graphs), for the fusion section. */
async function unfusedBundle(): Promise<Bundle> {
  const dir = join(CACHE, 'vit-b-16-unfused');
  if (existsSync(join(dir, 'manifest.json'))) return loadBundle(dir);
  log('exporting ViT-B-16 without fusion into the cache: a few minutes, once');
  rmSync(`${dir}.partial`, { recursive: true, force: true });
  await runPythonPlain(['-m', 'clipn_kernel', 'export', '--random-init', '--model-config', 'ViT-B-16', '--seed', '0', '--no-fuse', '--out', `${dir}.partial`]);
  renameSync(`${dir}.partial`, dir);
  return loadBundle(dir);
}

/** An int8-image copy of `src` at `dir`, made again when missing or made from another model. */
async function int8Copy(src: Bundle, dir: string, method: 'dynamic' | 'static', always = false): Promise<Bundle> {
  if (!always && existsSync(join(dir, 'manifest.json'))) {
    try {
      const b = await loadBundle(dir);
      const raw = rawManifest<{ graphs: { image: { quantization?: { method?: string } } } }>(dir);
      const made = raw.graphs.image.quantization?.method;
      if (b.manifest.modelVersion === src.manifest.modelVersion && b.manifest.precision === 'int8' && made === method) return b;
    } catch {
      /* made again below */
    }
  }
  log(`int8 image graph (${method}): ${relative(ROOT, src.dir)} -> ${relative(ROOT, dir)}`);
  rmSync(dir, { recursive: true, force: true });
  await runPythonPlain(['-c', 'import sys; from clipn_kernel.quantize import int8_image_copy; int8_image_copy(sys.argv[1], sys.argv[2], method=sys.argv[3])', src.dir, dir, method]);
  // The TypeScript loader checks every size and sha256 the quantizer wrote.
  return loadBundle(dir);
}

/** CUDA asked for: the project's own provider selection must load it, else stop here. */
async function requireProvider(graph: string): Promise<void> {
  if (device === 'cpu') return;
  try {
    const s = await createSession(graph, { executionProviders: [device], intraOpThreads: threads, interOpThreads: 1, graphOptimization: 'all' });
    await s.release();
  } catch (error) {
    const code = error instanceof ClipnError ? error.code : 'ERROR';
    process.stderr.write(`bench: --device ${device} requested, but ONNX Runtime cannot use it (${code}): ${(error as Error).message}\n` +
      'bench: refusing to fall back to the CPU. On a CUDA machine install the CUDA binaries of onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node) and check nvidia-smi.\n');
    process.exit(3);
  }
}

/** Writes what is measured so far, marked partial, so an interrupted run still leaves its numbers. */
function checkpoint(report: RunReport, done: string): void {
  report.seconds = (performance.now() - started) / 1000;
  writeFileSync(out, writeReport({ ...report, notes: [...report.notes, `**Partial**: written after the ${done} section; the run had not finished.`] }));
}

/** The files serve reads (checkpoint.pt is only hashed). */
function runtimeFilesOf(b: Bundle): string[] {
  const g = b.manifest.graphs;
  return [g.image.file, g.text.file, g.textNo.file, b.manifest.tokenizer.file, b.manifest.prompt.file, ...(b.manifest.templates ? [b.manifest.templates.file] : [])];
}

const bytesOf = (b: Bundle, names?: string[]): number => Object.entries(b.manifest.files).filter(([n]) => !names || names.includes(n)).reduce((a, [, f]) => a + f.bytes, 0);

async function main(): Promise<void> {
  mkdirSync(CACHE, { recursive: true });
  const machine = describeMachine(ROOT, PYTHON);
  log(`load average at start ${machine.loadAverage.map((v) => v.toFixed(2)).join(' ')}; ${threads} threads; device ${device}; ${quick ? 'quick' : 'full'} run -> ${relative(ROOT, out)}`);
  await requireProvider(join(ROOT, 'models', 'demo', 'image.onnx'));
  const { bundle, exportSeconds } = await vitBundle();
  const needsInt8 = sections.has('encoder') || sections.has('int8methods');
  const int8 = needsInt8 ? await int8Copy(bundle, join(CACHE, 'vit-b-16-int8'), 'dynamic') : bundle;
  const m = bundle.manifest;
  const runtimeFiles = runtimeFilesOf(bundle);
  const flops = vitImageFlops(visionConfig(m.architecture.config as Record<string, unknown>));
  const report: RunReport = {
    command: `npm run bench${process.argv.slice(2).length ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick, startedAt: new Date().toISOString(), seconds: 0, machine, threads, spinning, inferenceThread, device,
    bundle: {
      dir: relative(ROOT, bundle.dir), modelVersion: m.modelVersion, bytes: bytesOf(bundle), runtimeBytes: bytesOf(bundle, runtimeFiles),
      fp32ImageBytes: bytesOf(bundle, [m.graphs.image.file]), int8ImageBytes: bytesOf(int8, [int8.manifest.graphs.image.file]), exportSeconds,
    },
    flops, notes: [],
  };
  if (quick) report.notes.push('Quick run: repetitions cut to a minimum; the numbers show the suite works, not how fast anything is.');

  if (sections.has('encoder')) {
    const plan = { batches: quick ? [1, 8] : [1, 8, 32], reps: quick ? [2, 1] : [10, 6, 3], threads, device, budgetSeconds: quick ? 5 : 24, cacheDir: CACHE };
    log(`encoder: batches ${plan.batches.join(', ')}, ${plan.reps.join('/')} timed runs`);
    report.encoder = await measureEncoders(bundle.dir, int8.dir, plan, log);
    log('ONNX Runtime op profiles (fp32, int8) at batch 8 and 1');
    const profile = (graph: string, batch: number): Promise<OpProfile> => profileImageGraph(graph, m.preprocess.imageSize, batch, quick ? 1 : batch === 1 ? 6 : 3, threads, join(CACHE, 'profiles'), device);
    const [fp32Graph, int8Graph] = [bundle.path(m.graphs.image.file), int8.path(int8.manifest.graphs.image.file)];
    report.profiles = {
      fp32: await profile(fp32Graph, 8),
      int8: await profile(int8Graph, 8),
      batch1: { fp32: await profile(fp32Graph, 1), int8: await profile(int8Graph, 1) },
    };
    checkpoint(report, 'encoder');
  }
  if (sections.has('int8')) {
    const demo = await loadBundle(join(ROOT, 'models', 'demo'));
    const demoInt8 = await int8Copy(demo, join(CACHE, 'demo-int8'), 'dynamic', true);
    log('int8 quality on the demo model');
    report.quality = await runPython<Int8Quality>([join(ROOT, 'bench', 'int8-quality.py'), '--fp32', demo.dir, '--int8', demoInt8.dir, '--heldout', join(ROOT, 'models', 'demo-heldout')]);
    checkpoint(report, 'int8');
  }
  report.perf = {};
  if (sections.has('fusion')) {
    const unfused = await unfusedBundle();
    log('fusion: traced against fused image graph');
    const rates = await compareImageGraphs({ unfused: unfused.dir, fused: bundle.dir }, [1, 8], quick ? 2 : 4, threads, log);
    const profiles = {
      unfused: await profileImageGraph(unfused.path(unfused.manifest.graphs.image.file), m.preprocess.imageSize, 8, 1, threads, join(CACHE, 'profiles'), device),
      fused: await profileImageGraph(bundle.path(m.graphs.image.file), m.preprocess.imageSize, 8, 1, threads, join(CACHE, 'profiles'), device),
    };
    const raw = rawManifest<{ graphs: { image: { fused?: Record<string, unknown> } } }>(bundle.dir);
    report.perf.fusion = { rates, profiles, fused: raw.graphs.image.fused };
    checkpoint(report, 'fusion');
  }
  if (sections.has('textlen')) {
    log('text length: cold label sets at the true length against 77 positions');
    const tpl = readFileSync(bundle.path(m.templates!.file), 'utf8').split('\n').filter((l) => l.trim());
    report.perf.textLength = await measureTextLength(bundle.dir, tpl, { labels: quick ? 100 : 1000, padStride: quick ? 10 : 20, ensembleLabels: quick ? 1 : 5, rounds: quick ? 1 : 2, threads, maxBatch: 32 }, log);
    checkpoint(report, 'textlen');
  }
  if (sections.has('int8methods')) {
    const stat = await int8Copy(bundle, join(CACHE, 'vit-b-16-int8-static'), 'static');
    log('int8 methods: fp32, dynamic, static');
    const rates = await compareImageGraphs({ fp32: bundle.dir, dynamic: int8.dir, static: stat.dir }, [1, 8], quick ? 2 : 3, threads, log);
    const demo = await loadBundle(join(ROOT, 'models', 'demo'));
    const quality: Record<string, Int8Quality> = {};
    for (const method of ['dynamic', 'static'] as const) {
      const copy = await int8Copy(demo, join(CACHE, `demo-int8-${method}`), method, true);
      quality[method] = await runPython<Int8Quality>([join(ROOT, 'bench', 'int8-quality.py'), '--fp32', demo.dir, '--int8', copy.dir, '--heldout', join(ROOT, 'models', 'demo-heldout')]);
    }
    report.perf.int8Methods = { rates, quality };
    checkpoint(report, 'int8methods');
  }
  if (sections.has('memory')) {
    log('memory: ONNX Runtime session options, one process each');
    const base = { threads, batch: 8, sequentialLoad: true, textMemPattern: false };
    const variants = [
      { ...base, cpuMemArena: true, memPattern: true },
      { ...base, cpuMemArena: false, memPattern: false },
      { ...base, cpuMemArena: true, memPattern: false },
      { ...base, cpuMemArena: true, memPattern: true, sequentialLoad: false, textMemPattern: true },
    ];
    report.perf.memory = { rows: await measureMemory(bundle.dir, quick ? variants.slice(0, 2) : variants, log), runtimeBytes: bytesOf(bundle, runtimeFiles), model: `ViT-B-16 fp32 (${m.modelVersion})` };
    checkpoint(report, 'memory');
  }

  const templates = readFileSync(bundle.path(m.templates!.file), 'utf8').split('\n').filter((l) => l.trim());
  if (sections.has('serve') || sections.has('labels')) {
    const batch = 8;
    // The smoke run serves the small demo model: ViT-B-16 start-up alone takes minutes on a busy machine.
    const serveModel = opts['serve-model'] ?? (quick ? 'demo' : 'vit-b-16');
    if (serveModel !== 'demo' && serveModel !== 'vit-b-16') throw new Error(`--serve-model: expected demo or vit-b-16, got ${serveModel}`);
    const served = serveModel === 'demo' ? await loadBundle(join(ROOT, 'models', 'demo')) : bundle;
    report.servedBundle = { bytes: bytesOf(served), runtimeBytes: bytesOf(served, runtimeFilesOf(served)) };
    report.serveModel = `${serveModel === 'demo' ? 'the demo model (models/demo)' : 'ViT-B-16 fp32'}, ${served.manifest.modelVersion}`;
    const jpegs = await makeJpegs(24);
    log(`640x480 JPEGs: ${jpegs.length}, ${(jpegs.reduce((a, j) => a + j.length, 0) / jpegs.length / 1024).toFixed(0)} KiB on average`);
    if (sections.has('serve')) {
      const enc = await loadEncoders(served.dir, { threads, device, spinning }, batch);
      try {
        report.bare = { batch, ...(await bareEncoder(enc, jpegs, batch, quick ? 1 : 3, quick ? 2 : 6, served.manifest.preprocess)) };
      } finally {
        await enc.release();
      }
      log(`bare encoder: ${report.bare.rate.median.toFixed(2)} images/s`);
    }
    const plan: ServePlan = {
      bundleDir: served.dir, device, threads, batch, saturationImages: quick ? 32 : 64, saturationRounds: quick ? 1 : 3,
      latencySeconds: quick ? 5 : 20, latencyRounds: quick ? 1 : 3, latencyLoad: 0.5,
    };
    const kafka = testKafka();
    const waits = sections.has('serve') ? [5, 50] : [25];
    report.serve = [];
    let live: LiveServe | null = null;
    try {
      for (const [i, wait] of waits.entries()) {
        const r: { run: ServeRun; live: LiveServe } = await serveImages(kafka, sections.has('serve') ? plan : { ...plan, saturationImages: batch, saturationRounds: 1, latencyRounds: 1, latencySeconds: 2 }, wait, jpegs, templates[0]!, uniqueName('bench'), log);
        live = r.live;
        report.serve.push(r.run);
        checkpoint(report, `serve (maxWaitMs ${wait})`);
        if (i < waits.length - 1) {
          await live.stop();
          live = null;
        }
      }
      if (sections.has('labels') && live) {
        const labelPlan: LabelPlan = { labels: quick ? 50 : 1000, templates: templates.slice(0, 1), coldRounds: quick ? 1 : 2, addRounds: quick ? 2 : 5 };
        log(`label sets: ${labelPlan.labels} labels x ${labelPlan.templates.length} template(s), ${labelPlan.coldRounds} cold round(s), ${labelPlan.addRounds} added label(s)`);
        const l = await measureLabelSets(kafka, live, labelPlan, log);
        const full = templates.length;
        const texts = 2 * l.labels * full;
        report.labels = { ...l, extrapolation: { templates: full, texts, seconds: texts * l.perText.median } };
        const last = report.serve[report.serve.length - 1]!;
        last.memory.peakMiB = live.serve.memory().peakMiB;
      }
      if (!sections.has('serve')) delete report.serve;
    } finally {
      if (live) await live.stop();
    }
  }

  report.seconds = (performance.now() - started) / 1000;
  // The soak (npm run bench:soak) is measured on its own: keep its section.
  writeFileSync(out, keepSoakSection(existsSync(out) ? readFileSync(out, 'utf8') : '', writeReport(report)));
  log(`wrote ${relative(ROOT, out)} (${statSync(out).size} bytes) in ${(report.seconds / 60).toFixed(1)} min`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
