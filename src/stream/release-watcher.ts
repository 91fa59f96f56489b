/**
 * Model releases from the compacted model-release topic (key = model name). A prompt release
 * carries the mean "no" prompt inline; a no-tower release carries it too, with its text_no graph
 * by URI in the artifact store (read only from under model.releaseArtifactRoot, size and sha256
 * checked). Both are checked (model and base version, shape, sha256, finite values), every label
 * set's heads are rebuilt, and model and heads are swapped together. A bad release is refused and
 * the serving model stays.
 */
import { createHash } from 'node:crypto';
import type { KafkaMessage } from '../kafka/index.js';
import type { PreparedLabelSet } from '../clipn/index.js';
import type { RecordCodec, Signature } from '../codec/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { float32FromBytes } from '../model/index.js';
import { verifyRecord, type TrustedKeys } from '../trust/index.js';
import type { WatcherEvents } from './label-set-watcher.js';
import { DEFAULT_MAX_ARTIFACT_BYTES, readReleaseArtifact, type ArtifactRef } from './release-artifact.js';
import type { Serial } from './serial.js';
import type { ServingState } from './serving-state.js';

interface ReleaseValue {
  model: string;
  version: string;
  kind: 'prompt' | 'no_tower';
  baseModelVersion: string;
  prompt: { shape: number[]; dtype: string; data: Buffer; sha256: string } | null;
  artifact: ArtifactRef | null;
  sequence?: number;
  rollback?: boolean;
  signature?: Signature | null;
}

/** How far the release channel trusts what it reads. */
export interface ReleasePolicy {
  /** Trusted keys; null accepts unsigned releases in any order (no keys configured). */
  readonly keys: TrustedKeys | null;
  /** Largest no-tower artifact a release may declare (trust.maxArtifactBytes). */
  readonly maxArtifactBytes: number;
}

/** The n of a `<base>/p<n>` version, or null when the version is not of that form. */
export function promptNumber(version: string, base: string): number | null {
  const prefix = `${base}/p`;
  if (!version.startsWith(prefix) || !/^\d{1,15}$/.test(version.slice(prefix.length))) return null;
  return Number(version.slice(prefix.length));
}

/**
 * With keys: refuses a release that does not move forward. Its sequence must be above `lastSequence`;
 * unless it is a rollback, its version must be `<base>/p<n>` with n above the serving one's.
 */
export function checkOrder(r: ReleaseValue, lastSequence: number, servingVersion: string, base: string): void {
  const sequence = r.sequence ?? 0;
  if (sequence <= lastSequence) {
    throw new ClipnError('RELEASE_INVALID', `release ${r.version}: sequence ${sequence} is not above ${lastSequence}, the last release applied (an earlier release produced again)`, {
      details: { reason: 'stale', sequence, lastSequence },
    });
  }
  if (r.rollback === true) return;
  const n = promptNumber(r.version, base);
  if (n === null) throw new ClipnError('RELEASE_INVALID', `release ${r.version}: expected a version ${base}/p<n> (only a rollback may name another)`, { details: { reason: 'version' } });
  const serving = promptNumber(servingVersion, base) ?? -1;
  if (n <= serving) {
    throw new ClipnError('RELEASE_INVALID', `release ${r.version}: expected a version above the serving ${servingVersion}; going back needs a signed rollback (clipn models rollback)`, {
      details: { reason: 'stale', version: r.version, serving: servingVersion },
    });
  }
}

/** Checks a release against the serving model; returns the prompt tensor. */
export function checkRelease(r: ReleaseValue, modelName: string, baseVersion: string, shape: readonly [number, number]): Float32Array {
  const refuse = (why: string): never => {
    throw new ClipnError('RELEASE_INVALID', `release ${r.version}: ${why}`);
  };
  if (r.model !== modelName) refuse(`is for model ${r.model}, this sidecar serves ${modelName}`);
  if (r.baseModelVersion !== baseVersion) refuse(`applies to ${r.baseModelVersion}, the bundle is ${baseVersion}`);
  if (r.kind === 'no_tower' && r.artifact === null) refuse('is a no-tower release without an artifact');
  if (r.prompt === null) refuse('has no prompt tensor');
  const p = r.prompt!;
  if (p.dtype !== 'float32') refuse(`prompt dtype ${p.dtype}, expected float32`);
  if (p.shape.length !== 2 || p.shape[0] !== shape[0] || p.shape[1] !== shape[1]) refuse(`prompt shape [${p.shape.join(',')}], expected [${shape.join(',')}]`);
  const sha = createHash('sha256').update(p.data).digest('hex');
  if (sha !== p.sha256) refuse(`prompt sha256 ${sha} does not match the declared ${p.sha256}`);
  const values = float32FromBytes(p.data);
  if (values.length !== shape[0] * shape[1]) refuse(`prompt has ${values.length} values, expected ${shape[0] * shape[1]}`);
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) refuse(`prompt value ${bad} is not finite`);
  return values;
}

/** Builds the handler the release side channel applies, in order, through `serial`. */
export function releaseHandler(
  codec: RecordCodec,
  state: ServingState,
  serial: Serial,
  modelName: string,
  events: WatcherEvents,
  artifactRoot: string | null = null,
  policy: ReleasePolicy = { keys: null, maxArtifactBytes: DEFAULT_MAX_ARTIFACT_BYTES },
): (m: KafkaMessage) => Promise<void> {
  // With keys: the sequence of the last release applied (or found already serving).
  let lastSequence = -1;
  return (message) =>
    serial.run(async () => {
      const key = message.key?.toString('utf8') ?? '';
      if (message.value === null || message.value.length === 0) return;
      let version = key;
      try {
        const { value } = await codec.decode(message.value, 'ModelRelease');
        const release = value as ReleaseValue;
        version = release.version;
        if (policy.keys !== null) verifyRecord(codec, 'ModelRelease', release, policy.keys, `release ${release.version}`);
        const { classifier, labelSets } = state.current;
        if (release.model === modelName && release.version === classifier.promptVersion) {
          // Already serving (read again, or a rollback to it): nothing to swap.
          if (policy.keys !== null) lastSequence = Math.max(lastSequence, release.sequence ?? 0);
          return;
        }
        const prompt = checkRelease(release, modelName, classifier.modelVersion, classifier.bundle.manifest.prompt.shape);
        if (policy.keys !== null) checkOrder(release, lastSequence, classifier.promptVersion, classifier.modelVersion);
        const started = performance.now();
        const next =
          release.kind === 'no_tower'
            ? await classifier.withNoTower(await readReleaseArtifact(release.artifact!, artifactRoot, release.version, policy.maxArtifactBytes), prompt, release.version)
            : classifier.withPrompt(prompt, release.version);
        const rebuilt = new Map<string, PreparedLabelSet>();
        try {
          for (const [id, prepared] of labelSets) rebuilt.set(id, await next.prepare(prepared.labelSet));
        } catch (error) {
          if (next.hasReleasedTower) await next.releaseTower();
          throw error;
        }
        state.replaceAll(next, rebuilt);
        if (policy.keys !== null) lastSequence = release.sequence ?? 0;
        // Heads are built under this serial section only, so the replaced tower has no user left.
        if (classifier.hasReleasedTower) await classifier.releaseTower();
        events.applied('release', release.model, release.version, { labelSets: rebuilt.size, ms: Math.round(performance.now() - started), ...(release.rollback ? { rollback: true } : {}) });
      } catch (error) {
        events.refused('release', version, toClipnError(error));
      }
    });
}
