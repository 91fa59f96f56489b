/** `clipn models list` and `clipn models rollback VERSION`: the trainer's release history. */
import type { Command } from 'commander';
import Table from 'cli-table3';
import { listReleases, rollback } from '../../trainer/index.js';
import { loadSigner } from '../../trust/index.js';
import { runtime } from '../shared/runtime.js';

const fmt = (v: number | undefined): string => (v === undefined ? '-' : v.toFixed(4));

export function register(program: Command): void {
  const models = program.command('models').description('model releases made by the trainer');
  models
    .command('list')
    .option('--config <file.json>', 'config file')
    .option('--json', 'one JSON object per release')
    .description('kept releases, oldest first, and which one the release topic serves')
    .action(async (flags: { config?: string; json?: boolean }) => {
      const { config, root } = runtime(flags);
      const { releases, servingVersion, historyDir } = await listReleases(config, root);
      if (flags.json) {
        for (const r of releases) process.stdout.write(JSON.stringify(r) + '\n');
        return;
      }
      const table = new Table({ head: ['', 'version', 'parent', 'kind', 'created', 'samples', 'ATD AUROC', 'CTW AUROC', 'ATD FPR95', 'ID acc.'] });
      for (const r of releases) {
        table.push([r.serving ? '*' : '', r.version, r.parentVersion ?? '-', r.kind, new Date(r.createdAt).toISOString(), r.sampleCount, fmt(r.metrics.atdAuroc), fmt(r.metrics.ctwAuroc), fmt(r.metrics.atdFpr95), fmt(r.metrics.idAccuracy)]);
      }
      process.stdout.write(`${table.toString()}\n`);
      const kept = releases.some((r) => r.serving);
      process.stdout.write(
        servingVersion === null ? `the release topic holds no release: sidecars serve the bundle's prompt (history: ${historyDir})\n`
        : kept ? `* served now (history: ${historyDir})\n`
        : `the release topic serves ${servingVersion}, which is not in the history ${historyDir}\n`,
      );
    });
  models
    .command('rollback')
    .argument('<version>', 'a version from `clipn models list`, or the bundle\'s own prompt version')
    .option('--config <file.json>', 'config file')
    .option('--key <private.pem>', 'sign the rollback with this Ed25519 private key (default: trust.signingKey)')
    .description('republish an earlier release as the current one (a rollback: sidecars with trusted keys accept it when it is signed)')
    .action(async (version: string, flags: { config?: string; key?: string }) => {
      const { config, root } = runtime(flags);
      const record = await rollback(config, root, version, flags.key === undefined ? undefined : loadSigner(flags.key, process.cwd(), '--key'));
      const signed = record.signature ? `signed by key ${record.signature.keyId}` : 'unsigned';
      process.stdout.write(`release ${record.version} (${record.kind}) republished to ${config.kafka.topics.modelReleases} for model ${record.model} as a rollback (sequence ${record.sequence}), ${signed}\n`);
    });
}
