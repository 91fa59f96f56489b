/** The trainer as the end-to-end training tests run it: its topics and its environment. */
import { uniqueName } from './kafka-env.js';
import { sidecarEnv, type TestTopics } from './sidecar.js';

/** Share of reviewed samples the trainer holds out in these tests. */
export const HELD_OUT_SHARE = '0.3';
/** Known split key, so the tests can tell which items the trainer holds out. */
export const SPLIT_SALT = 'clipn-split';

/** The sidecar's topics plus the review-decision topic. */
export type TrainerTopics = TestTopics & { decisions: string };

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
