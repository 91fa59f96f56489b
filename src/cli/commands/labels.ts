/** `clipn labels put FILE.json`, `clipn labels delete ID` and `clipn labels list`: the label-set topic. */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { labelSetRecord, parseLabelSet } from '../../clipn/index.js';
import { createCodec, type RecordCodec } from '../../codec/index.js';
import type { Config } from '../../config/index.js';
import { ClipnError } from '../../errors.js';
import { createKafka, ensureServiceTopics, readToEnd } from '../../kafka/index.js';
import { loadSigner, signRecord, type Signer } from '../../trust/index.js';
import { runtime } from '../shared/runtime.js';

/** The signer of --key FILE, else of trust.signingKey, else none. */
function signerFor(config: Config, root: string, keyFile: string | undefined): Signer | null {
  if (keyFile !== undefined) return loadSigner(keyFile, process.cwd(), '--key');
  return config.trust.signingKey === null ? null : loadSigner(config.trust.signingKey, root);
}

/** Encodes a label-set record, signed when there is a signer, and produces it (key = its id). */
async function publish(config: Config, codec: RecordCodec, record: Record<string, unknown> & { id: string }, signer: Signer | null): Promise<void> {
  const value = await codec.encode('LabelSet', signer === null ? record : signRecord(codec, 'LabelSet', record, signer));
  const kafka = createKafka(config.kafka);
  await ensureServiceTopics(kafka, config.kafka.newTopics, { sideChannels: [config.kafka.topics.labelSets] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic: config.kafka.topics.labelSets, acks: -1, messages: [{ key: record.id, value }] });
  } finally {
    await producer.disconnect();
  }
}

/** The latest record per id on the label-set topic (null for a tombstone). */
async function latestOnTopic(config: Config, codec: RecordCodec): Promise<Map<string, Record<string, unknown> | null>> {
  const messages = await readToEnd(createKafka(config.kafka), config.kafka.topics.labelSets, { timeoutMs: 30_000, groupId: `clipn-labels-list-${process.pid}-${Date.now()}` });
  const latest = new Map<string, Record<string, unknown> | null>();
  for (const m of messages) {
    const key = m.key?.toString() ?? '';
    latest.set(key, m.value && m.value.length > 0 ? ((await codec.decode(m.value, 'LabelSet')).value as Record<string, unknown>) : null);
  }
  return latest;
}

export function register(program: Command): void {
  const labels = program.command('labels').description('manage label sets on the label-set topic');
  labels
    .command('put')
    .argument('<file.json>', 'a label set: {"id", "version", "labels", "templates"?, "routing": {"rule"}, "thresholds"?}')
    .option('--config <file.json>', 'config file')
    .option('--key <private.pem>', 'sign it with this Ed25519 private key (default: trust.signingKey)')
    .description('validate a label set and publish it (key = its id), signed when a key is given')
    .action(async (file: string, flags: { config?: string; key?: string }) => {
      const { config, root } = runtime(flags);
      const signer = signerFor(config, root, flags.key);
      let raw: unknown;
      try {
        raw = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        throw new ClipnError('LABEL_SET_INVALID', `${file}: ${(error as Error).message}`, { cause: error });
      }
      const ls = parseLabelSet(raw, file, { caps: config.processing.labelSets });
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      await publish(config, codec, labelSetRecord(ls), signer);
      const signed = signer === null ? 'unsigned' : `signed by key ${signer.keyId}`;
      process.stdout.write(`label set ${ls.id} version ${ls.version} (${ls.labels.length} labels, rule ${ls.routing.rule}) published to ${config.kafka.topics.labelSets}, ${signed}\n`);
    });
  labels
    .command('delete')
    .argument('<id>', 'the label set to delete')
    .option('--config <file.json>', 'config file')
    .option('--key <private.pem>', 'sign the deletion with this Ed25519 private key (default: trust.signingKey)')
    .option('--version <n>', 'version of the deletion (default: one above the latest on the topic)')
    .description('delete a label set with a record marked deleted (signed when a key is given; sidecars with trusted keys refuse tombstones)')
    .action(async (id: string, flags: { config?: string; key?: string; version?: string }) => {
      const { config, root } = runtime(flags);
      const signer = signerFor(config, root, flags.key);
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      let version: number;
      if (flags.version !== undefined) {
        version = Number(flags.version);
        if (!Number.isSafeInteger(version) || version < 0) throw new ClipnError('LABEL_SET_INVALID', `--version: expected an integer >= 0, got ${flags.version}`);
      } else {
        const latest = (await latestOnTopic(config, codec)).get(id);
        version = typeof latest?.version === 'number' ? latest.version + 1 : 1;
      }
      const record = { id, version, labels: [], templates: null, routing: { rule: 'atd', params: {} }, thresholds: null, description: null, updatedAt: Date.now(), deleted: true };
      await publish(config, codec, record, signer);
      process.stdout.write(`label set ${id} deleted (version ${version}) on ${config.kafka.topics.labelSets}, ${signer === null ? 'unsigned' : `signed by key ${signer.keyId}`}\n`);
    });
  labels
    .command('list')
    .option('--config <file.json>', 'config file')
    .option('--json', 'one JSON object per line')
    .description('the label sets on the topic (latest per id)')
    .action(async (flags: { config?: string; json?: boolean }) => {
      const { config } = runtime(flags);
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      const latest = await latestOnTopic(config, codec);
      for (const [id, v] of latest) {
        if (v === null || v.deleted === true) continue;
        const labelsList = v.labels as string[];
        const signature = v.signature as { keyId: string } | null | undefined;
        if (flags.json) process.stdout.write(JSON.stringify({ ...v, signature: signature ? { keyId: signature.keyId } : null }) + '\n');
        else process.stdout.write(`${id}\tv${v.version}\t${(v.routing as { rule: string }).rule}\t${labelsList.length} labels: ${labelsList.slice(0, 8).join(', ')}${labelsList.length > 8 ? ', ...' : ''}\n`);
      }
    });
}
