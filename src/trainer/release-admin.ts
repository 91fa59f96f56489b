/**
 * What `clipn models list` and `clipn models rollback` do: the release history next to what the
 * release topic serves, and republishing a kept release (or the bundle's own prompt) as current.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ModelRelease } from '../codec/index.js';
import { createCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError } from '../errors.js';
import { createKafka } from '../kafka/index.js';
import { loadBundle, readPrompt } from '../model/index.js';
import { trainerOptions } from './options.js';
import { readingKeys, type Signer } from '../trust/index.js';
import { latestRelease, publishRelease } from './release-channel.js';
import { ReleaseHistory } from './release-history.js';

/** One row of `clipn models list`. */
export interface ReleaseRow {
  readonly version: string;
  readonly parentVersion: string | null;
  readonly kind: ModelRelease['kind'];
  readonly baseModelVersion: string;
  readonly createdAt: number;
  readonly sampleCount: number;
  readonly metrics: Readonly<Record<string, number>>;
  /** True for the version the release topic holds now. */
  readonly serving: boolean;
}

/** The kept releases (oldest first) and the version the topic serves (null: none, the bundle's prompt). */
export async function listReleases(config: Config, root: string): Promise<{ releases: ReleaseRow[]; servingVersion: string | null; historyDir: string }> {
  const options = trainerOptions(config, root);
  const history = new ReleaseHistory(options.historyDir);
  const current = await latestRelease(createKafka(config.kafka), createCodec({ registryUrl: config.codec.registryUrl }), options.topics.modelReleases, options.modelName, readingKeys(options.trust));
  const releases = (await history.list()).map(({ record: r }) => ({
    version: r.version,
    parentVersion: r.parentVersion,
    kind: r.kind,
    baseModelVersion: r.baseModelVersion,
    createdAt: r.createdAt,
    sampleCount: r.lineage.sampleCount,
    metrics: r.lineage.metrics,
    serving: current !== null && current.version === r.version,
  }));
  return { releases, servingVersion: current?.version ?? null, historyDir: options.historyDir };
}

/**
 * Republishes `version` as the current release with a fresh createdAt, marked as a rollback and
 * signed by `signer` (default trust.signingKey): a release from the history, or the bundle's own
 * prompt version (back to the model as shipped). Sidecars swap because the version differs from
 * the one they serve; with trusted keys they accept the older version because it is a signed rollback.
 * @throws ClipnError TRAINER_RELEASE_NOT_FOUND when neither, RELEASE_INVALID when it is for another bundle.
 */
export async function rollback(config: Config, root: string, version: string, signer?: Signer): Promise<ModelRelease> {
  const options = trainerOptions(config, root);
  const bundle = await loadBundle(options.bundleDir);
  const kept = await new ReleaseHistory(options.historyDir).get(version);
  let record: ModelRelease;
  if (kept !== null) {
    if (kept.record.baseModelVersion !== bundle.manifest.modelVersion) {
      throw new ClipnError('RELEASE_INVALID', `release ${version} applies to ${kept.record.baseModelVersion}, the bundle in ${options.bundleDir} is ${bundle.manifest.modelVersion}`);
    }
    record = { ...kept.record, createdAt: Date.now(), rollback: true };
  } else if (version === bundle.manifest.prompt.version) {
    await readPrompt(bundle); // verifies the file against the manifest
    const data = await readFile(bundle.path(bundle.manifest.prompt.file));
    record = {
      model: options.modelName,
      version,
      parentVersion: null,
      kind: 'prompt',
      baseModelVersion: bundle.manifest.modelVersion,
      prompt: { shape: [...bundle.manifest.prompt.shape], dtype: 'float32', data, sha256: createHash('sha256').update(data).digest('hex') },
      artifact: null,
      lineage: { sampleCount: 0, metrics: {}, kernelArgs: { source: 'bundle' } },
      createdAt: Date.now(),
      rollback: true,
    };
  } else {
    throw new ClipnError('TRAINER_RELEASE_NOT_FOUND', `release ${version}: expected a version kept in ${options.historyDir} or the bundle's ${bundle.manifest.prompt.version}, got neither (clipn models list shows them)`);
  }
  const trust = signer === undefined ? options.trust : { ...options.trust, signer };
  return publishRelease(createKafka(config.kafka), createCodec({ registryUrl: config.codec.registryUrl }), options.topics.modelReleases, record, trust.signer, readingKeys(trust));
}
