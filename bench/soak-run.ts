/**
 * The soak (npm run bench:soak): measures `clipn serve`'s saturation rate at maxWaitMs 5, then
 * runs it for `--minutes` at half that rate and writes the "Soak" section of bench/RESULTS.md
 * (replacing an earlier one, leaving the other sections as they are).
 *   npm run bench:soak [-- --minutes 10] [-- --serve-model demo|vit-b-16] [-- --out FILE]
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBundle } from '../src/model/index.js';
import { testKafka, uniqueName } from '../test/integration/helpers/kafka.js';
import { makeJpegs } from './jpegs.js';
import { describeMachine } from './machine.js';
import { PYTHON, ROOT } from './python.js';
import { serveImages, type ServePlan } from './serve.js';
import { soak, soakMarkdown, spliceSoakSection } from './soak.js';

const { values: opts } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'serve-model': { type: 'string', default: 'demo' },
    out: { type: 'string', default: join(ROOT, 'bench', 'RESULTS.md') },
  },
});
const minutes = Number(opts.minutes);
if (!Number.isInteger(minutes) || minutes < 3) throw new Error(`--minutes: expected a whole number >= 3 (2 of them are warm-up), got ${opts.minutes}`);
const model = opts['serve-model']!;
const bundleDir = model === 'demo' ? join(ROOT, 'models', 'demo') : model === 'vit-b-16' ? join(ROOT, '.cache', 'bench', 'vit-b-16-fp32') : null;
if (bundleDir === null) throw new Error(`--serve-model: expected demo or vit-b-16, got ${model}`);
const started = performance.now();
const log = (m: string): void => void process.stderr.write(`[soak ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${m}\n`);

async function main(): Promise<void> {
  const bundle = await loadBundle(bundleDir!);
  const machine = describeMachine(ROOT, PYTHON);
  const kafka = testKafka();
  const jpegs = await makeJpegs(24);
  const plan: ServePlan = {
    bundleDir: bundle.dir, device: 'cpu', threads: availableParallelism(), batch: 8,
    saturationImages: 64, saturationRounds: 2, latencySeconds: 5, latencyRounds: 1, latencyLoad: 0.5,
  };
  log(`saturation of clipn serve on ${model} (maxWaitMs 5)`);
  const { run, live } = await serveImages(kafka, plan, 5, jpegs, 'a photo of a {}.', uniqueName('soak-sat'), log);
  await live.stop();
  const perSecond = run.saturation.median / 2;
  log(`saturation ${run.saturation.median.toFixed(2)} images/s; soaking ${minutes} min at ${perSecond.toFixed(2)}/s`);
  const result = await soak(kafka, plan, jpegs, perSecond, minutes, log);
  const load = machine.loadAverage.map((v) => v.toFixed(2)).join(', ');
  const section = [
    soakMarkdown(result).trimEnd(),
    '',
    `Measured by \`npm run bench:soak -- --minutes ${minutes} --serve-model ${model}\` on ${new Date().toISOString()}: ${machine.cpu} (${machine.cpuFlags}), ${machine.logicalCpus} logical CPUs, load average at start ${load}; ` +
      `served bundle ${relative(ROOT, bundle.dir)} (${bundle.manifest.modelVersion}), processing.maxBatch ${plan.batch}, saturation ${run.saturation.median.toFixed(2)} images/s measured just before.`,
    '',
  ].join('\n');
  const out = opts.out!;
  writeFileSync(out, spliceSoakSection(existsSync(out) ? readFileSync(out, 'utf8') : '# Benchmark results\n', section));
  log(`wrote the soak section of ${relative(ROOT, out)}: RSS slope ${result.rssSlopeMiBPerMin.toFixed(2)} MiB/min, ${result.missing} of ${result.produced} without a result`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`soak: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
