/**
 * clipn-sidecar's public API: embed the sidecar, the classifier or the record codec in another
 * Node service. The CLI (`clipn`) is built on the same exports.
 */
export { ClipnError, ERROR_CODES, isClipnError, toClipnError, type ErrorCode, type ClipnErrorOptions } from './errors.js';
export { loadConfig, redactConfig, type Config } from './config/index.js';
export {
  ClipnClassifier,
  parseLabelSet,
  scoreImages,
  auroc,
  fprAtTpr,
  thresholdAtTpr,
  ROUTING_RULES,
  type ClassifierOptions,
  type PreparedLabelSet,
  type LabelSet,
  type RoutingRule,
  type ImageScore,
  type Scores,
  type ScoreThresholds,
} from './clipn/index.js';
export { loadBundle, ClipnEncoders, ClipTokenizer, availableProviders, type Bundle, type Manifest, type ExecutionProvider } from './model/index.js';
export { preprocess, resolveImage, DEFAULT_IMAGE_OPTIONS, type ImageOptions, type PreprocessSpec } from './images/index.js';
export { createCodec, RECORD_NAMES, type RecordCodec, type RecordName } from './codec/index.js';
export { createKafka, ensureTopics, readToEnd } from './kafka/index.js';
export { Sidecar, type SidecarOptions } from './service/sidecar.js';
export { createLogger, startTelemetry, Metrics, type Telemetry } from './telemetry/index.js';
export {
  TrainerService,
  SampleStore,
  runKernel,
  trainRun,
  decide,
  evaluateClassifier,
  splitOf,
  joinSample,
  ReleaseHistory,
  listReleases,
  rollback,
  type TrainerServiceOptions,
  type Sample,
  type GateMetrics,
  type RunOutcome,
  type StoreCounts,
} from './trainer/index.js';
export { sampledForTraining, SAMPLED_REASON } from './stream/routing.js';
export * from './plugin/index.js';
