/** `clipn labels put FILE.json` and `clipn labels list`: the label-set topic. */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { labelSetRecord, parseLabelSet } from '../../clipn/index.js';
import { createCodec } from '../../codec/index.js';
import { ClipnError } from '../../errors.js';
import { createKafka, ensureTopics, readToEnd, sideChannelTopic } from '../../kafka/index.js';
import { runtime } from '../shared/runtime.js';

export function register(program: Command): void {
  const labels = program.command('labels').description('manage label sets on the label-set topic');
  labels
    .command('put')
    .argument('<file.json>', 'a label set: {"id", "version", "labels", "templates"?, "routing": {"rule"}, "thresholds"?}')
    .option('--config <file.json>', 'config file')
    .description('validate a label set and publish it (key = its id)')
    .action(async (file: string, flags: { config?: string }) => {
      const { config } = runtime(flags);
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        throw new ClipnError('LABEL_SET_INVALID', `${file}: ${(error as Error).message}`, { cause: error });
      }
      const ls = parseLabelSet(raw, file, { caps: config.processing.labelSets });
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      const value = await codec.encode('LabelSet', labelSetRecord(ls));
      const kafka = createKafka(config.kafka);
      const admin = kafka.admin();
      await admin.connect();
      await ensureTopics(admin, [sideChannelTopic(config.kafka.topics.labelSets, config.kafka.newTopics)]).finally(() => admin.disconnect());
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await producer.send({ topic: config.kafka.topics.labelSets, acks: -1, messages: [{ key: ls.id, value }] });
      await producer.disconnect();
      process.stdout.write(`label set ${ls.id} version ${ls.version} (${ls.labels.length} labels, rule ${ls.routing.rule}) published to ${config.kafka.topics.labelSets}\n`);
    });
  labels
    .command('list')
    .option('--config <file.json>', 'config file')
    .option('--json', 'one JSON object per line')
    .description('the label sets on the topic (latest per id)')
    .action(async (flags: { config?: string; json?: boolean }) => {
      const { config } = runtime(flags);
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      const messages = await readToEnd(createKafka(config.kafka), config.kafka.topics.labelSets, { timeoutMs: 30_000, groupId: `clipn-labels-list-${process.pid}-${Date.now()}` });
      const latest = new Map<string, Record<string, unknown> | null>();
      for (const m of messages) {
        const key = m.key?.toString() ?? '';
        latest.set(key, m.value && m.value.length > 0 ? ((await codec.decode(m.value, 'LabelSet')).value as Record<string, unknown>) : null);
      }
      for (const [id, v] of latest) {
        if (v === null) continue;
        const labelsList = v.labels as string[];
        if (flags.json) process.stdout.write(JSON.stringify(v) + '\n');
        else process.stdout.write(`${id}\tv${v.version}\t${(v.routing as { rule: string }).rule}\t${labelsList.length} labels: ${labelsList.slice(0, 8).join(', ')}${labelsList.length > 8 ? ', ...' : ''}\n`);
      }
    });
}
