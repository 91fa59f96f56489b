/**
 * The trainer's view of the side channels: which release the release topic serves now, the
 * latest label sets, and publishing a release (key = model name) with acks from all replicas.
 * With keys (the trusted keys and the trainer's own), records that do not verify are passed
 * over as the sidecars pass them over; published releases get the next sequence and are signed
 * with trust.signingKey.
 */
import { createHash } from 'node:crypto';
import { parseLabelSet, type LabelSet } from '../clipn/index.js';
import type { ModelRelease, RecordCodec } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import { ensureServiceTopics, latestByKey, readToEnd, type Kafka, type PartitionMessage } from '../kafka/index.js';
import { float32FromBytes, readPrompt, type Bundle } from '../model/index.js';
import { signRecord, verifyRecord, type Signer, type TrustedKeys } from '../trust/index.js';

/** Limit on reading a side channel to its end. */
const READ_TIMEOUT_MS = 30_000;

/** The prompt the sidecars serve: the latest release that fits the bundle, else the bundle's own. */
export interface ServingPrompt {
  readonly version: string;
  readonly prompt: Float32Array;
  /** The release on the topic, or null when the bundle's prompt is served. */
  readonly release: ModelRelease | null;
}

/**
 * The latest release of `modelName` on the topic, or null. With `keys`, the latest one signed by
 * one of them (unsigned and wrongly signed releases are refused by the sidecars).
 */
export async function latestRelease(kafka: Kafka, codec: RecordCodec, topic: string, modelName: string, keys: TrustedKeys | null = null): Promise<ModelRelease | null> {
  await ensureTopic(kafka, topic);
  const messages = await readToEnd(kafka, topic, { timeoutMs: READ_TIMEOUT_MS });
  if (keys === null) {
    const latest = latestByKey(messages).get(modelName);
    return latest === undefined ? null : (await codec.decode(latest.value!, 'ModelRelease')).value;
  }
  let found: ModelRelease | null = null;
  for (const m of ofKey(messages, modelName)) {
    try {
      const { value } = await codec.decode(m.value!, 'ModelRelease');
      verifyRecord(codec, 'ModelRelease', value, keys, `release ${value.version}`);
      if (found === null || (value.sequence ?? 0) > (found.sequence ?? 0)) found = value;
    } catch {
      // Refused by the sidecars too.
    }
  }
  return found;
}

/** The messages of one key with a value, in topic order. */
function ofKey(messages: readonly PartitionMessage[], key: string): PartitionMessage[] {
  return messages.filter((m) => m.key?.toString('utf8') === key && m.value !== null && m.value.length > 0);
}

/**
 * What the sidecars serve, as they decide it: the latest release when it is for this bundle and
 * carries a valid prompt (a sidecar refuses anything else and keeps its current prompt, which
 * for a fresh sidecar is the bundle's).
 */
export async function servingPrompt(release: ModelRelease | null, bundle: Bundle): Promise<ServingPrompt> {
  const shape = bundle.manifest.prompt.shape;
  if (release !== null && release.baseModelVersion === bundle.manifest.modelVersion && release.prompt !== null) {
    const sha = createHash('sha256').update(release.prompt.data).digest('hex');
    const values = float32FromBytes(release.prompt.data);
    if (sha === release.prompt.sha256 && values.length === shape[0] * shape[1] && values.every(Number.isFinite)) {
      return { version: release.version, prompt: values, release };
    }
  }
  return { version: bundle.manifest.prompt.version, prompt: await readPrompt(bundle), release: null };
}

/** The latest valid version of every label set on the topic (with `keys`, of those signed by one of them). */
export async function latestLabelSets(kafka: Kafka, codec: RecordCodec, topic: string, keys: TrustedKeys | null = null): Promise<Map<string, LabelSet>> {
  await ensureTopic(kafka, topic);
  const out = new Map<string, LabelSet>();
  const messages = await readToEnd(kafka, topic, { timeoutMs: READ_TIMEOUT_MS });
  const candidates = keys === null ? [...latestByKey(messages)] : messages.map((m) => [m.key?.toString('utf8') ?? '', m] as const);
  const versions = new Map<string, number>();
  for (const [id, m] of candidates) {
    try {
      if (m.value === null || m.value.length === 0) continue;
      const { value } = await codec.decode(m.value, 'LabelSet');
      if (keys !== null) verifyRecord(codec, 'LabelSet', value, keys, `label set ${id}`);
      if (value.id !== id || (keys !== null && value.version <= (versions.get(id) ?? -1))) continue;
      versions.set(id, value.version);
      if (value.deleted) out.delete(id);
      else out.set(id, parseLabelSet(value, `label set ${id}`));
    } catch {
      // A label set the sidecars refuse is no label set to evaluate against either.
    }
  }
  return out;
}

/**
 * Produces a release to the (compacted) release topic, key = its model name, with the next
 * sequence (one above the latest release on the topic: signed by `keys` when given) and, with a
 * signer, signed. Returns the record as published.
 */
export async function publishRelease(kafka: Kafka, codec: RecordCodec, topic: string, release: ModelRelease, signer: Signer | null = null, keys: TrustedKeys | null = null): Promise<ModelRelease> {
  const latest = await latestRelease(kafka, codec, topic, release.model, keys);
  const sequence = (latest?.sequence ?? 0) + 1;
  if (!Number.isSafeInteger(sequence)) throw new ClipnError('RELEASE_INVALID', `release ${release.version}: the latest release on ${topic} has sequence ${latest?.sequence}, no safe integer follows it`);
  const unsigned: ModelRelease = { ...release, sequence, rollback: release.rollback ?? false, signature: null };
  const record = signer === null ? unsigned : signRecord(codec, 'ModelRelease', unsigned, signer);
  const value = await codec.encode('ModelRelease', record);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: release.model, value }] });
  } catch (error) {
    throw new ClipnError('KAFKA_ERROR', `publishing release ${release.version} to ${topic}: ${(error as Error).message}`, { cause: error });
  } finally {
    await producer.disconnect();
  }
  return record;
}

/** Side channels are compacted single-partition topics (as the sidecar creates them), replicated as the broker's default. */
function ensureTopic(kafka: Kafka, topic: string): Promise<string[]> {
  return ensureServiceTopics(kafka, { partitions: 1, replicationFactor: null }, { sideChannels: [topic] });
}
