/**
 * One memory measurement, in its own process so its peak is its own: loads a bundle's encoders
 * with the given ONNX Runtime memory options through the project's own code, runs image batches
 * of every size up to the serve batch (continuous batching makes all of them) and the text
 * towers at several lengths, then swaps in a no-tower release (its graph read from the bundle),
 * and prints one JSON line: RSS after load, after the runs, the peak (VmHWM), how far RSS rose
 * during the swap and the median batch-`batch` image time.
 *   node --import tsx bench/memory-child.ts BUNDLE_DIR '{"threads":2,"batch":8,"cpuMemArena":true,"memPattern":true,"sequentialLoad":true}'
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { ClipnEncoders, loadBundle, readPrompt } from '../src/model/index.js';
import { randomPixels } from './random-inputs.js';

export interface MemoryVariant {
  threads: number;
  batch: number;
  cpuMemArena: boolean;
  memPattern: boolean;
  sequentialLoad: boolean;
  textMemPattern: boolean;
}

export interface MemoryResult {
  baseMiB: number;
  loadedMiB: number;
  afterMiB: number;
  peakMiB: number;
  /** Highest RSS during a no-tower release swap (graph read, session created beside the serving one) above the RSS before it. */
  swapRiseMiB: number;
  imageBatchMs: number;
  textMs: number;
}

function mem(): { rss: number; hwm: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const mib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN) / 1024;
  return { rss: mib('VmRSS'), hwm: mib('VmHWM') };
}

async function main(): Promise<void> {
  const [dir, json] = process.argv.slice(2);
  const v = JSON.parse(json!) as MemoryVariant;
  const base = mem();
  const bundle = await loadBundle(dir!);
  const encoders = await ClipnEncoders.load(bundle, {
    executionProviders: ['cpu'], intraOpThreads: v.threads, interOpThreads: 1, graphOptimization: 'all', maxBatch: v.batch,
    cpuMemArena: v.cpuMemArena, memPattern: v.memPattern, sequentialLoad: v.sequentialLoad, textMemPattern: v.textMemPattern,
  });
  const loaded = mem();
  const times: number[] = [];
  for (let round = 0; round < 2; round++) {
    for (let n = 1; n <= v.batch; n++) {
      const t0 = performance.now();
      await encoders.encodeImages(randomPixels(n, encoders.imageSize, n), n);
      if (n === v.batch) times.push(performance.now() - t0);
    }
  }
  const prompt = await readPrompt(bundle);
  const t0 = performance.now();
  // Label-set-like texts: lengths 4..40 tokens, many at a time.
  const rows = Array.from({ length: 400 }, (_, i) => [49406, ...Array.from({ length: 2 + (i % 37) }, (_, j) => 320 + ((i + j) % 500)), 49407]);
  await encoders.encodeTextRows(rows);
  await encoders.encodeTextRowsNo(rows, prompt);
  const textMs = performance.now() - t0;
  const after = mem();
  // The swap's transient: the release's bytes and its new session sit beside the serving tower.
  let swapPeak = after.rss;
  const sampler = setInterval(() => (swapPeak = Math.max(swapPeak, mem().rss)), 2);
  const released = await encoders.withTextNo(await readFile(bundle.path(bundle.manifest.graphs.textNo.file)), 'no-tower release');
  clearInterval(sampler);
  swapPeak = Math.max(swapPeak, mem().rss);
  await released.releaseTextNo();
  await encoders.release();
  const out: MemoryResult = { baseMiB: base.rss, loadedMiB: loaded.rss, afterMiB: after.rss, peakMiB: after.hwm, swapRiseMiB: swapPeak - after.rss, imageBatchMs: times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!, textMs };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`memory-child: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
