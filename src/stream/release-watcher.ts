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
import type { RecordCodec } from '../codec/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { float32FromBytes } from '../model/index.js';
import type { WatcherEvents } from './label-set-watcher.js';
import { readReleaseArtifact, type ArtifactRef } from './release-artifact.js';
import type { Serial } from './serial.js';
import type { ServingState } from './serving-state.js';

interface ReleaseValue {
  model: string;
  version: string;
  kind: 'prompt' | 'no_tower';
  baseModelVersion: string;
  prompt: { shape: number[]; dtype: string; data: Buffer; sha256: string } | null;
  artifact: ArtifactRef | null;
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

export function releaseHandler(codec: RecordCodec, state: ServingState, serial: Serial, modelName: string, events: WatcherEvents, artifactRoot: string | null = null): (m: KafkaMessage) => Promise<void> {
  return (message) =>
    serial.run(async () => {
      const key = message.key?.toString('utf8') ?? '';
      if (message.value === null || message.value.length === 0) return;
      let version = key;
      try {
        const { value } = await codec.decode(message.value, 'ModelRelease');
        const release = value as ReleaseValue;
        version = release.version;
        const { classifier, labelSets } = state.current;
        if (release.model === modelName && release.version === classifier.promptVersion) return; // already serving
        const prompt = checkRelease(release, modelName, classifier.modelVersion, classifier.bundle.manifest.prompt.shape);
        const started = performance.now();
        const next =
          release.kind === 'no_tower'
            ? await classifier.withNoTower(await readReleaseArtifact(release.artifact!, artifactRoot, release.version), prompt, release.version)
            : classifier.withPrompt(prompt, release.version);
        const rebuilt = new Map<string, PreparedLabelSet>();
        try {
          for (const [id, prepared] of labelSets) rebuilt.set(id, await next.prepare(prepared.labelSet));
        } catch (error) {
          if (next.hasReleasedTower) await next.releaseTower();
          throw error;
        }
        state.replaceAll(next, rebuilt);
        // Heads are built under this serial section only, so the replaced tower has no user left.
        if (classifier.hasReleasedTower) await classifier.releaseTower();
        events.applied('release', release.model, release.version, { labelSets: rebuilt.size, ms: Math.round(performance.now() - started) });
      } catch (error) {
        events.refused('release', version, toClipnError(error));
      }
    });
}
