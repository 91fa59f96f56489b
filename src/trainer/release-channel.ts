/**
 * The trainer's view of the side channels: which release the release topic serves now, the
 * latest label sets, and publishing a release (key = model name) with acks from all replicas.
 */
import { createHash } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { parseLabelSet, type LabelSet } from '../clipn/index.js';
import type { ModelRelease, RecordCodec } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import { ensureTopics, latestByKey, readToEnd } from '../kafka/index.js';
import { float32FromBytes, readPrompt, type Bundle } from '../model/index.js';

/** Limit on reading a side channel to its end. */
const READ_TIMEOUT_MS = 30_000;

/** The prompt the sidecars serve: the latest release that fits the bundle, else the bundle's own. */
export interface ServingPrompt {
  readonly version: string;
  readonly prompt: Float32Array;
  /** The release on the topic, or null when the bundle's prompt is served. */
  readonly release: ModelRelease | null;
}

/** The latest release of `modelName` on the topic, or null. */
export async function latestRelease(kafka: Kafka, codec: RecordCodec, topic: string, modelName: string): Promise<ModelRelease | null> {
  await ensureTopic(kafka, topic);
  const latest = latestByKey(await readToEnd(kafka, topic, { timeoutMs: READ_TIMEOUT_MS })).get(modelName);
  if (latest === undefined) return null;
  return (await codec.decode(latest.value!, 'ModelRelease')).value;
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

/** The latest valid version of every label set on the topic. */
export async function latestLabelSets(kafka: Kafka, codec: RecordCodec, topic: string): Promise<Map<string, LabelSet>> {
  await ensureTopic(kafka, topic);
  const out = new Map<string, LabelSet>();
  for (const [id, m] of latestByKey(await readToEnd(kafka, topic, { timeoutMs: READ_TIMEOUT_MS }))) {
    try {
      out.set(id, parseLabelSet((await codec.decode(m.value!, 'LabelSet')).value, `label set ${id}`));
    } catch {
      // A label set the sidecars refuse is no label set to evaluate against either.
    }
  }
  return out;
}

/** Produces a release to the (compacted) release topic, key = its model name. */
export async function publishRelease(kafka: Kafka, codec: RecordCodec, topic: string, release: ModelRelease): Promise<void> {
  await ensureTopic(kafka, topic);
  const value = await codec.encode('ModelRelease', release);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: release.model, value }] });
  } catch (error) {
    throw new ClipnError('KAFKA_ERROR', `publishing release ${release.version} to ${topic}: ${(error as Error).message}`, { cause: error });
  } finally {
    await producer.disconnect();
  }
}

/** Side channels are compacted single-partition topics (as the sidecar creates them). */
async function ensureTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, [{ topic, partitions: 1, configs: { 'cleanup.policy': 'compact' } }]);
  } finally {
    await admin.disconnect();
  }
}
