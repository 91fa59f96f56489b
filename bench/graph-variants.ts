/**
 * Image graphs of one model side by side: fused against traced (unfused) fp32, and fp32 against
 * its dynamic and static int8 copies. Each variant is loaded through the project's own code
 * (bundle loader with checksums, ClipnEncoders) and the variants run interleaved, batch by batch
 * and repetition by repetition, so all of them see the same machine load.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadEncoders } from './encoder.js';
import { randomPixels } from './random-inputs.js';
import type { MemoryResult, MemoryVariant } from './memory-child.js';
import { ROOT } from './python.js';
import { summarize, timeRuns, type Summary } from './stats.js';

/** Images/s per batch size for each named variant. */
export type VariantRates = Record<string, Record<string, Summary>>;

export async function compareImageGraphs(dirs: Record<string, string>, batches: number[], reps: number, threads: number, log: (m: string) => void): Promise<VariantRates> {
  const names = Object.keys(dirs);
  const enc = [];
  for (const name of names) enc.push(await loadEncoders(dirs[name]!, { threads, device: 'cpu' }, Math.max(...batches)));
  const out: VariantRates = Object.fromEntries(names.map((n) => [n, {}]));
  try {
    for (const batch of batches) {
      const x = randomPixels(batch, enc[0]!.imageSize);
      for (const e of enc) await e.encodeImages(x, batch);
      const rates: number[][] = names.map(() => []);
      for (let r = 0; r < reps; r++) {
        for (const [i, e] of enc.entries()) rates[i]!.push(batch / (await timeRuns(1, () => e.encodeImages(x, batch), 0))[0]!);
      }
      names.forEach((n, i) => (out[n]![batch] = summarize(rates[i]!)));
      log(`  batch ${batch}: ${names.map((n) => `${n} ${out[n]![batch]!.median.toFixed(2)}`).join(', ')} images/s`);
    }
  } finally {
    for (const e of enc) await e.release();
  }
  return out;
}

export interface MemoryRow {
  variant: MemoryVariant;
  result: MemoryResult;
}

/** One child process per variant (bench/memory-child.ts), so each peak RSS is its own. */
export async function measureMemory(dir: string, variants: MemoryVariant[], log: (m: string) => void): Promise<MemoryRow[]> {
  const rows: MemoryRow[] = [];
  for (const variant of variants) {
    const result = await new Promise<MemoryResult>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'memory-child.ts'), dir, JSON.stringify(variant)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code !== 0) reject(new Error(`memory-child ${JSON.stringify(variant)} exited ${code}: ${stderr.slice(-2000)}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as MemoryResult);
      });
    });
    rows.push({ variant, result });
    log(`  ${JSON.stringify(variant)}: loaded ${result.loadedMiB.toFixed(0)} MiB, peak ${result.peakMiB.toFixed(0)} MiB, image batch ${result.imageBatchMs.toFixed(0)} ms, texts ${result.textMs.toFixed(0)} ms`);
  }
  return rows;
}
