/** `clipn dlq replay`: re-drive chosen dead letters to their input topic. */
import type { Command } from 'commander';
import { createCodec } from '../../codec/index.js';
import { ClipnError } from '../../errors.js';
import { createKafka } from '../../kafka/index.js';
import { replayDeadLetters } from '../../stream/dlq-replay.js';
import { runtime } from '../shared/runtime.js';

interface Flags {
  config?: string;
  code: string[];
  id: string[];
  since?: string;
  until?: string;
  to?: string;
  max?: string;
  dryRun?: boolean;
  json?: boolean;
}

const repeat = (v: string, acc: string[] = []): string[] => [...acc, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

function time(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (!Number.isFinite(t)) throw new ClipnError('CONFIG_INVALID', `${flag}: expected an ISO date-time (2026-12-01T10:00:00Z), got ${JSON.stringify(value)}`);
  return t;
}

export function register(program: Command): void {
  program
    .command('dlq')
    .description('the dead-letter topic')
    .command('replay')
    .description('produce chosen dead letters again to the topic they came from (their kept value, key and headers)')
    .option('--config <file.json>', 'config file')
    .option('--code <code>', 'only letters with this error code (repeatable, or comma-separated)', repeat, [])
    .option('--id <id>', 'only letters of this request id (repeatable, or comma-separated)', repeat, [])
    .option('--since <time>', 'only letters that failed at or after this time (ISO 8601)')
    .option('--until <time>', 'only letters that failed before this time (ISO 8601)')
    .option('--to <topic>', 'produce to this topic instead of each letter\'s source topic')
    .option('--max <n>', 'replay at most n letters (oldest first)')
    .option('--dry-run', 'list what would be replayed, produce nothing')
    .option('--json', 'one JSON object per letter')
    .action(async (flags: Flags) => {
      const { config } = runtime(flags);
      const max = flags.max === undefined ? undefined : Number(flags.max);
      if (max !== undefined && !(Number.isInteger(max) && max >= 1)) throw new ClipnError('CONFIG_INVALID', `--max: expected a whole number >= 1, got ${flags.max}`);
      const filter = { codes: flags.code, ids: flags.id, ...(flags.since ? { since: time('--since', flags.since)! } : {}), ...(flags.until ? { until: time('--until', flags.until)! } : {}) };
      const replayed = await replayDeadLetters(createKafka(config.kafka), createCodec({ registryUrl: config.codec.registryUrl }), {
        deadLetterTopic: config.kafka.topics.deadLetter,
        filter,
        ...(flags.to ? { to: flags.to } : {}),
        ...(max !== undefined ? { max } : {}),
        dryRun: Boolean(flags.dryRun),
      });
      for (const r of replayed) {
        if (flags.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(`${r.letter.partition}/${r.letter.offset}\t${r.errorCode}\t${r.id ?? '-'}\t${r.skipped === null ? `${flags.dryRun ? 'would replay to' : 'replayed to'} ${r.to}` : `skipped: ${r.skipped}`}\n`);
      }
      const done = replayed.filter((r) => r.skipped === null).length;
      process.stderr.write(`${flags.dryRun ? 'would replay' : 'replayed'} ${done}, skipped ${replayed.length - done} of the ${replayed.length} matching dead letters\n`);
    });
}
