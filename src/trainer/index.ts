/**
 * The trainer: a durable store of reviewed samples fed from Kafka, the Python kernel run on
 * them, a gate that scores candidate and serving prompts on held-out samples, and releases
 * published to the model-release topic and kept in a history folder.
 */
export type { DecisionKind, GateDecision, GateMetrics, KernelEvent, KernelResult, RunOutcome, RunStatus, Sample, SampleKind, Split, StoreCounts, StoredDecision, StoredItem } from './types.js';
export { trainerOptions, type KernelSettings, type RegressionSettings, type TrainerOptions } from './options.js';
export { hashUnit, splitOf, splitSalt } from './split.js';
export { embeddingProblem, sameEmbedding, NORM_TOLERANCE, type RefusalReason, type SampleRefusal } from './sample-check.js';
export { joinSample, type JoinOptions } from './sample-join.js';
export { SampleStore, type SampleStoreOptions, type RunMark } from './sample-store.js';
export { SampleConsumer, storedDecision, storedItem, type SampleConsumerDeps } from './sample-consumer.js';
export { runKernel, verifyOutput, kernelArgs, stopLeftoverKernel, type KernelOutput, type KernelRunOptions } from './kernel-runner.js';
export { decide, gateMetrics, lineageMetrics, type GateMargins, type HeldOutScores } from './gate.js';
export { evaluateClassifier, evaluateRegression } from './evaluator.js';
export { conceptsOf, regressionLineage, regressionMetrics, regressionReasons, type ConceptMetrics, type RegressionMetrics, type SourceScores } from './regression-gate.js';
export { bundlePart, decodeEmbedding, heldOutDirOf, reviewedPart, UNNAMED_CONCEPT, type RegressionPart } from './regression-set.js';
export { ReleaseHistory, historyDir, nextVersion, releaseFromJson, releaseToJson, type StoredRelease } from './release-history.js';
export { latestLabelSets, latestRelease, publishRelease, servingPrompt, type ServingPrompt } from './release-channel.js';
export { TrainerMetrics } from './trainer-metrics.js';
export { chooseLabelSet, trainRun, type RunDeps } from './training-run.js';
export { TrainerService, type TrainerServiceOptions } from './trainer-service.js';
export { listReleases, rollback, type ReleaseRow } from './release-admin.js';
export { knownTextFilter } from './text-filter.js';
