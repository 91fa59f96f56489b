/** Creating the topics the product needs when they are missing, safely under concurrency. */
import type { Admin, Kafka } from 'kafkajs';
import { ClipnError } from '../errors.js';
import { withAdmin } from './admin-session.js';
import { kafkaError } from './errors.js';

/** A topic to have. */
export interface TopicSpec {
  topic: string;
  /** Partitions when created; default: the broker's num.partitions. */
  partitions?: number;
  /**
   * Replication factor when created; default: the broker's default.replication.factor (1 on
   * the local broker of scripts/kafka.sh, the cluster's policy elsewhere).
   */
  replicationFactor?: number;
  /** Topic configs when created, e.g. { 'cleanup.policy': 'compact' } for the side channels. */
  configs?: Record<string, string>;
}

/** How the services create the topics they need (kafka.newTopics). */
export interface NewTopicPolicy {
  partitions: number;
  /** null: the broker's default.replication.factor. */
  replicationFactor: number | null;
}

/** A stream topic (inputs, results, review items, dead letters, decisions): partitions for parallelism. */
export function streamTopic(topic: string, policy: NewTopicPolicy): TopicSpec {
  return { topic, partitions: policy.partitions, ...(policy.replicationFactor === null ? {} : { replicationFactor: policy.replicationFactor }) };
}

/**
 * A side channel (label sets, model releases): one partition, so its records have one order, and
 * compacted, so the latest record per key is the state every reader rebuilds from the beginning.
 */
export function sideChannelTopic(topic: string, policy: NewTopicPolicy): TopicSpec {
  return { topic, partitions: 1, configs: { 'cleanup.policy': 'compact' }, ...(policy.replicationFactor === null ? {} : { replicationFactor: policy.replicationFactor }) };
}

// Kafka's own limits on topic names.
const TOPIC_NAME = /^[A-Za-z0-9._-]{1,249}$/;

function checkSpecs(specs: readonly TopicSpec[]): void {
  const seen = new Set<string>();
  specs.forEach((s, i) => {
    if (typeof s.topic !== 'string' || !TOPIC_NAME.test(s.topic) || s.topic === '.' || s.topic === '..') {
      throw new ClipnError('CONFIG_INVALID', `topics[${i}].topic: expected 1 to 249 of [A-Za-z0-9._-] (not "." or ".."), got ${JSON.stringify(s.topic)}`, { details: { topic: s.topic } });
    }
    if (seen.has(s.topic)) throw new ClipnError('CONFIG_INVALID', `topics[${i}].topic: expected each topic once, got ${s.topic} twice`, { details: { topic: s.topic } });
    seen.add(s.topic);
    for (const [field, value] of [['partitions', s.partitions], ['replicationFactor', s.replicationFactor]] as const) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new ClipnError('CONFIG_INVALID', `topics[${i}].${field} of ${s.topic}: expected a whole number >= 1, got ${value}`, { details: { topic: s.topic, field } });
      }
    }
  });
}

/** The leaf errors of a kafkajs error (aggregates and retry wrappers unwrapped). */
function leafErrors(error: unknown, depth = 0): Array<{ type?: unknown; topic?: unknown }> {
  const e = error as { errors?: unknown; cause?: unknown };
  if (depth < 5 && Array.isArray(e?.errors) && e.errors.length > 0) return e.errors.flatMap((x) => leafErrors(x, depth + 1));
  if (depth < 5 && e?.cause !== undefined && e.cause !== error) return leafErrors(e.cause, depth + 1);
  return [error as { type?: unknown; topic?: unknown }];
}

// What metadata says while a new topic is still on its way to every broker: on a multi-broker
// KRaft cluster each broker applies the controller's records on its own, so the broker asked
// next may not know the topic, or its leader, for a moment.
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/** Asks for the metadata of `topics` until every partition has a leader, for up to `timeoutMs`. */
async function awaitLeaders(admin: Admin, topics: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  for (let delay = 50; ; delay = Math.min(delay * 2, 1000)) {
    try {
      const { topics: found } = await admin.fetchTopicMetadata({ topics: [...topics] });
      const led = (t: string): boolean => found.some((f) => f.name === t && f.partitions.length > 0 && f.partitions.every((p) => p.leader >= 0));
      const waiting = topics.filter((t) => !led(t));
      if (waiting.length === 0) return;
      last = `no leader yet for ${waiting.join(', ')}`;
    } catch (error) {
      const leaves = leafErrors(error);
      if (!leaves.every((e) => typeof e.type === 'string' && NOT_YET.has(e.type))) throw kafkaError(error, `waiting for the leaders of ${topics.join(', ')}`);
      last = leaves.map((e) => String(e.type)).join(', ');
    }
    if (Date.now() + delay > deadline) {
      throw new ClipnError('KAFKA_ERROR', `waiting for the leaders of ${topics.join(', ')}: expected a leader for every partition within ${timeoutMs} ms, got ${last}`, { retriable: true, details: { topics } });
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** Options of {@link ensureTopics}. */
export interface EnsureTopicsOptions {
  /** Longest wait for the created topics' leaders, in ms (default 30 000). */
  leaderTimeoutMs?: number;
}

/**
 * Creates the topics that do not exist yet and waits for their leaders; existing topics are
 * left as they are (their partitions and configs are not changed). Another process creating
 * the same topics at the same moment is fine (TOPIC_ALREADY_EXISTS).
 * @returns the topics this call created.
 * @throws ClipnError CONFIG_INVALID for a bad spec, KAFKA_ERROR when the broker refuses or the
 * leaders do not appear in time.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[], options: EnsureTopicsOptions = {}): Promise<string[]> {
  checkSpecs(specs);
  if (specs.length === 0) return [];
  const names = specs.map((s) => s.topic);
  let missing: TopicSpec[];
  let existedMeanwhile: Set<string>;
  try {
    const existing = new Set(await admin.listTopics());
    missing = specs.filter((s) => !existing.has(s.topic));
  } catch (error) {
    throw kafkaError(error, `listing topics to create ${names.join(', ')}`);
  }
  if (missing.length === 0) return [];
  try {
    // Not kafkajs' waitForLeaders: it gives up when the broker it asks does not know the topic yet.
    const created = await admin.createTopics({
      waitForLeaders: false,
      topics: missing.map((s) => ({
        topic: s.topic,
        numPartitions: s.partitions ?? -1,
        replicationFactor: s.replicationFactor ?? -1,
        configEntries: Object.entries(s.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
    // false: all of them appeared between listTopics and createTopics.
    existedMeanwhile = new Set(created ? [] : missing.map((s) => s.topic));
  } catch (error) {
    const leaves = leafErrors(error);
    if (!leaves.every((e) => e.type === 'TOPIC_ALREADY_EXISTS')) {
      throw kafkaError(error, `creating topics ${missing.map((s) => s.topic).join(', ')}`);
    }
    existedMeanwhile = new Set(leaves.map((e) => String(e.topic)));
  }
  // Ours or created by someone else meanwhile: all of them are there with leaders before we return.
  await awaitLeaders(admin, missing.map((s) => s.topic), options.leaderTimeoutMs ?? 30_000);
  return missing.map((s) => s.topic).filter((t) => !existedMeanwhile.has(t));
}

/** The topics a service or command needs, by kind. */
export interface ServiceTopics {
  /** Stream topics: created with the policy's partitions. */
  readonly stream?: readonly string[];
  /** Side channels: created with one compacted partition. */
  readonly sideChannels?: readonly string[];
}

/**
 * Creates those of `topics` that are missing, as kafka.newTopics (`policy`) says, through an admin
 * client of its own: how the services and commands have the topics they use.
 * @returns the topics this call created.
 * @throws ClipnError as {@link ensureTopics}.
 */
export async function ensureServiceTopics(kafka: Kafka, policy: NewTopicPolicy, topics: ServiceTopics): Promise<string[]> {
  const specs = [...(topics.stream ?? []).map((t) => streamTopic(t, policy)), ...(topics.sideChannels ?? []).map((t) => sideChannelTopic(t, policy))];
  return withAdmin(kafka, (admin) => ensureTopics(admin, specs));
}

/** Kafka's default max.message.bytes (broker message.max.bytes), used when a topic's cannot be read. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/**
 * The max.message.bytes of each topic: the largest record batch the broker accepts for it.
 * A topic whose config cannot be read (an ACL, an old broker) gets the Kafka default.
 */
export async function maxMessageBytes(admin: Admin, topics: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>(topics.map((t) => [t, DEFAULT_MAX_MESSAGE_BYTES]));
  if (topics.length === 0) return out;
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      // 2 is ConfigResourceTypes.TOPIC; the enum is not exported as a value in kafkajs' types.
      resources: [...new Set(topics)].map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })),
    });
    for (const r of described.resources) {
      const v = Number(r.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
      if (r.errorCode === 0 && Number.isSafeInteger(v) && v > 0) out.set(r.resourceName, v);
    }
  } catch {
    // Keep the defaults: the broker still enforces the real limit, which the producer handles.
  }
  return out;
}
