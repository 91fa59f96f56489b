/** The trainer's settings, taken once from the validated config, with every path made absolute. */
import { isAbsolute, join, resolve } from 'node:path';
import type { Config } from '../config/index.js';
import { trustOptions, type TrustOptions } from '../trust/index.js';
import { historyDir } from './release-history.js';

/** Kernel settings (trainer.kernel). */
export interface KernelSettings {
  readonly mode: 'prompts' | 'no-tower';
  readonly epochs: number;
  readonly lr: number;
  readonly batch: number;
  readonly weightDecay: number | null;
  readonly seed: number;
  readonly device: 'auto' | 'cpu' | 'cuda';
  /** Balanced L_no rows (kernel --balance). */
  readonly balance: boolean;
  readonly timeoutMs: number;
  /** Weight of CLIPN's own losses (kernel --clipn-weight). */
  readonly clipnWeight: number;
  /** Weight of the served-score loss (kernel --served-weight). */
  readonly servedWeight: number;
  /** Weight of the distillation toward the serving model (kernel --distill). */
  readonly distill: number;
  /** Weight of L2-SP toward the serving weights (kernel --l2). */
  readonly l2: number;
  /** Adapter rank; 0 trains the whole no tower (kernel --lora-rank). */
  readonly loraRank: number;
}

/** The regression set and its gate (trainer.regression). */
export interface RegressionSettings {
  /** Folder of held-out images (id/<label>, ood/<concept>) from config; null: the bundle's declared one. */
  readonly heldOutDir: string | null;
  readonly useBundleHeldOut: boolean;
  readonly margin: number;
  readonly minSamples: number;
  /** Where embeddings of held-out images are cached (<samplesDir>/regression). */
  readonly cacheDir: string;
}

/** Everything the trainer reads from config, resolved. */
export interface TrainerOptions {
  readonly bundleDir: string;
  readonly modelName: string;
  readonly pythonBin: string;
  /** The sample store's folder (<samplesDir>/store). */
  readonly storeDir: string;
  /** Temporary run folders (<samplesDir>/runs), emptied at start. */
  readonly runsDir: string;
  /** The release history (trainer.artifactStore or <samplesDir>/releases). */
  readonly historyDir: string;
  readonly groupId: string;
  readonly topics: { readonly review: string; readonly decisions: string; readonly labelSets: string; readonly modelReleases: string };
  readonly defaultLabelSet: string;
  /** The gate's label set: trainer.labelSetId, else processing.defaultLabelSet. */
  readonly gateLabelSet: string;
  /** Key of the held-out split; null: the store's own random one. */
  readonly splitSalt: string | null;
  readonly trainOnSampled: boolean;
  readonly minNewSamples: number;
  readonly scheduleMs: number | null;
  readonly margins: { readonly auroc: number; readonly accuracy: number };
  readonly minHeldOut: number;
  readonly heldOutShare: number;
  readonly maxSamples: number;
  readonly maxPendingDecisions: number;
  readonly kernel: KernelSettings;
  readonly regression: RegressionSettings;
  readonly http: { readonly host: string; readonly port: number };
  /** trust: the key that signs published releases, and the keys what is read is checked against. */
  readonly trust: TrustOptions;
}

/** The trainer's options from config; relative paths are relative to `root` (the package root). */
export function trainerOptions(config: Config, root: string): TrainerOptions {
  const t = config.trainer;
  const samplesDir = resolve(root, t.samplesDir);
  // A bare interpreter name ("python3") is looked up on PATH; a path is made absolute.
  const pythonBin = t.pythonBin.includes('/') && !isAbsolute(t.pythonBin) ? resolve(root, t.pythonBin) : t.pythonBin;
  return Object.freeze({
    bundleDir: resolve(root, config.model.dir),
    modelName: config.processing.modelName,
    pythonBin,
    storeDir: join(samplesDir, 'store'),
    runsDir: join(samplesDir, 'runs'),
    historyDir: historyDir(t.artifactStore, samplesDir, root),
    groupId: t.groupId,
    topics: Object.freeze({ review: config.kafka.topics.review, decisions: config.kafka.topics.reviewDecisions, labelSets: config.kafka.topics.labelSets, modelReleases: config.kafka.topics.modelReleases }),
    defaultLabelSet: config.processing.defaultLabelSet,
    gateLabelSet: t.labelSetId ?? config.processing.defaultLabelSet,
    splitSalt: t.splitSalt,
    trainOnSampled: t.trainOnSampled,
    minNewSamples: t.minNewSamples,
    scheduleMs: t.schedule,
    margins: Object.freeze({ auroc: t.marginAuroc, accuracy: t.marginAccuracy }),
    minHeldOut: t.minHeldOut,
    heldOutShare: t.heldOutShare,
    maxSamples: t.retention.maxSamples,
    maxPendingDecisions: t.retention.maxPendingDecisions,
    kernel: Object.freeze({ ...t.kernel }),
    regression: Object.freeze({
      heldOutDir: t.regression.heldOutDir === null ? null : resolve(root, t.regression.heldOutDir),
      useBundleHeldOut: t.regression.useBundleHeldOut,
      margin: t.regression.margin,
      minSamples: t.regression.minSamples,
      cacheDir: join(samplesDir, 'regression'),
    }),
    http: Object.freeze({ host: config.telemetry.http.host, port: t.httpPort }),
    trust: trustOptions(config.trust, root),
  });
}
