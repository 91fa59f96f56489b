/** The trainer as the end-to-end training tests run it: its topics and its environment. */
import type { Kafka } from 'kafkajs';
import { createCodec } from '../../../src/codec/index.js';
import { DEMO } from './demo-world.js';
import { createTopics, produce, uniqueName } from './kafka.js';
import { sidecarEnv, sidecarTopicSpecs, testTopics, type TestTopics } from './sidecar.js';

const codec = createCodec({ registryUrl: null });

/** Share of reviewed samples the trainer holds out in these tests. */
export const HELD_OUT_SHARE = '0.3';
/** Known split key, so the tests can tell which items the trainer holds out. */
export const SPLIT_SALT = 'clipn-split';

/** The sidecar's topics plus the review-decision topic. */
export type TrainerTopics = TestTopics & { decisions: string };

/**
 * Fresh sidecar and decision topics with the demo labels on the label-set topic, routed so strictly
 * that (nearly) every image goes to review; `reviewItems` are copied onto the review topic.
 */
export async function newTrainerTopics(kafka: Kafka, reviewItems: ReadonlyArray<{ key: string; value: Buffer }> = []): Promise<TrainerTopics> {
  const topics = { ...testTopics(), decisions: `${uniqueName('t')}.decisions` };
  await createTopics(kafka, [...sidecarTopicSpecs(topics, 2), { topic: topics.decisions }]);
  const labelSet = await codec.encode('LabelSet', {
    id: 'default', version: 1, labels: DEMO.labels, templates: null,
    // Strict calibrated routing sends (nearly) every image to review, whatever the model's own flags.
    routing: { rule: 'calibrated', params: {} }, thresholds: { ctwLogOdds: null, atdLogOdds: 13.8 }, description: null, updatedAt: Date.now(), // atd 0.999999
  });
  await produce(kafka, topics.labelSets, [{ key: 'default', value: labelSet }]);
  if (reviewItems.length > 0) await produce(kafka, topics.review, reviewItems.map((r) => ({ key: r.key, value: r.value })));
  return topics;
}

/** The end offset of each partition of a topic (['0'] for an empty one-partition topic). */
export async function topicEnds(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((o) => o.high);
  } finally {
    await admin.disconnect();
  }
}

/** `clipn train` settings over the sidecar's: its own group, samples folder and artifact store; `extra` wins. */
export function trainerEnv(topics: TrainerTopics, samplesDir: string, artifacts: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...sidecarEnv(topics, uniqueName('g-unused')),
    CLIPN_KAFKA__TOPICS__REVIEW_DECISIONS: topics.decisions,
    CLIPN_TRAINER__SAMPLES_DIR: samplesDir,
    CLIPN_TRAINER__ARTIFACT_STORE: artifacts,
    CLIPN_TRAINER__GROUP_ID: uniqueName('trainer'),
    CLIPN_TRAINER__HELD_OUT_SHARE: HELD_OUT_SHARE,
    CLIPN_TRAINER__SPLIT_SALT: SPLIT_SALT,
    // The sidecar's sampled captioned traffic trains too (unreviewed ID pairs).
    CLIPN_TRAINER__TRAIN_ON_SAMPLED: 'true',
    CLIPN_TRAINER__MIN_HELD_OUT: '5',
    CLIPN_TRAINER__HTTP_PORT: '0',
    CLIPN_TRAINER__KERNEL__DEVICE: 'cpu',
    CLIPN_TELEMETRY__LOG_LEVEL: 'info',
    ...extra,
  };
}
