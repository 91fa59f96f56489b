/**
 * One training run: the stored samples split into train and held-out, the kernel trained on
 * the first in a fresh run folder, candidate and serving prompts scored on the second, and a
 * release published only when the gate lets it through. Nothing is published before the
 * kernel's output has been verified, and the run folder is removed whatever happens.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { Tracer } from '@opentelemetry/api';
import { parseLabelSet, type ClipnClassifier, type LabelSet } from '../clipn/index.js';
import type { ModelRelease, RecordCodec } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import { checkPrompt, float32FromBytes } from '../model/index.js';
import type { Logger } from '../telemetry/logger.js';
import { evaluateClassifier } from './evaluator.js';
import { decide, lineageMetrics } from './gate.js';
import { runKernel } from './kernel-runner.js';
import { knownTextFilter } from './text-filter.js';
import type { TrainerOptions } from './options.js';
import { latestLabelSets, latestRelease, publishRelease, servingPrompt } from './release-channel.js';
import { readingKeys } from '../trust/index.js';
import { nextVersion, type ReleaseHistory } from './release-history.js';
import type { SampleStore } from './sample-store.js';
import type { TrainerMetrics } from './trainer-metrics.js';
import type { RunOutcome, Sample } from './types.js';

/** What a run needs. */
export interface RunDeps {
  readonly options: TrainerOptions;
  readonly store: SampleStore;
  /** The bundle's classifier (its prompt is replaced per evaluation). */
  readonly classifier: ClipnClassifier;
  readonly kafka: Kafka;
  readonly codec: RecordCodec;
  readonly history: ReleaseHistory;
  readonly logger: Logger;
  readonly metrics: TrainerMetrics;
  readonly tracer: Tracer;
  /** Aborting stops the kernel. */
  readonly signal?: AbortSignal;
}

/**
 * The label set the gate evaluates against: the one most held-out samples were scored with
 * (ties: the configured default), at its latest version on the label-set topic; when the topic
 * no longer has it, the labels the review items carried.
 */
export function chooseLabelSet(heldOut: readonly Sample[], onTopic: ReadonlyMap<string, LabelSet>, defaultId: string): LabelSet {
  const votes = new Map<string, number>();
  for (const s of heldOut) votes.set(s.labelSetId, (votes.get(s.labelSetId) ?? 0) + 1);
  const ranked = [...votes].sort((a, b) => b[1] - a[1] || Number(b[0] === defaultId) - Number(a[0] === defaultId) || a[0].localeCompare(b[0]));
  const id = ranked[0]?.[0];
  if (id === undefined) throw new ClipnError('TRAINER_SAMPLES_INVALID', 'no held-out samples to choose a label set from');
  const latest = onTopic.get(id);
  if (latest) return latest;
  const carried = heldOut.find((s) => s.labelSetId === id)!;
  return parseLabelSet({ id, labels: [...carried.labels] }, `label set ${id} (from review items)`);
}

/** Runs once; the outcome says whether a release was published, refused, or there was nothing to train on. */
export async function trainRun(deps: RunDeps): Promise<RunOutcome> {
  const { options, store, classifier, logger } = deps;
  const bundle = classifier.bundle;
  const through = store.lastSeq;
  const template = classifier.defaultTemplates[0] ?? 'a photo of a {}.';
  const samples = store.samples({ template, heldOutShare: options.heldOutShare });
  const empty = { version: null, servingVersion: null, candidate: null, serving: null, sampleCount: samples.length };
  if (samples.length === 0) return { ...empty, status: 'no_samples', reasons: ['the store holds no joined samples'] };
  const known = await knownTextFilter(bundle);
  let unknownTexts = 0;
  const train = samples
    .filter((s) => s.split === 'train')
    .map((s) => {
      if (s.text === null || known === null || known(s.text)) return s;
      unknownTexts++;
      return { ...s, text: null };
    });
  if (unknownTexts > 0) logger.warn({ samples: unknownTexts }, 'texts with words outside the model vocabulary left out (those samples train as images only)');
  const heldOut = samples.filter((s) => s.split === 'heldout');
  const heldId = heldOut.filter((s) => s.kind === 'id').length;
  const heldOod = heldOut.length - heldId;
  if (heldId < options.minHeldOut || heldOod < options.minHeldOut || train.filter((s) => s.text !== null).length < 2) {
    const reasons = [`too few samples: ${heldId} held-out ID and ${heldOod} held-out OOD (need ${options.minHeldOut} each), ${train.filter((s) => s.text !== null).length} captioned training samples (need 2)`];
    await store.markRun('refused', through);
    return { ...empty, status: 'refused', reasons };
  }

  const [release, labelSets] = await Promise.all([
    latestRelease(deps.kafka, deps.codec, options.topics.modelReleases, options.modelName, readingKeys(options.trust)),
    latestLabelSets(deps.kafka, deps.codec, options.topics.labelSets, readingKeys(options.trust)),
  ]);
  const serving = await servingPrompt(release, bundle);
  const labelSet = chooseLabelSet(heldOut, labelSets, options.defaultLabelSet);
  const init = serving.release !== null ? ((await deps.history.get(serving.version))?.files['prompts.bin'] ?? null) : null;
  logger.info({ samples: samples.length, train: train.length, heldOutId: heldId, heldOutOod: heldOod, serving: serving.version, labelSet: labelSet.id, labelSetVersion: labelSet.version, init: init !== null }, 'training run starting');

  await mkdir(options.runsDir, { recursive: true });
  const runDir = await mkdtemp(join(options.runsDir, 'run-'));
  try {
    const samplesFile = join(runDir, 'samples.jsonl');
    await writeSamples(samplesFile, train);
    const k = options.kernel;
    const output = await withSpan(deps.tracer, 'trainer.kernel', () =>
      runKernel({
        pythonBin: options.pythonBin,
        bundleDir: options.bundleDir,
        samplesFile,
        outDir: join(runDir, 'out'),
        mode: k.mode,
        epochs: k.epochs,
        lr: k.lr,
        batch: k.batch,
        weightDecay: k.weightDecay,
        seed: k.seed,
        device: k.device,
        balance: k.balance,
        initPrompts: init,
        timeoutMs: k.timeoutMs,
        pidFile: join(runDir, 'kernel.pid'),
        ...(deps.signal ? { signal: deps.signal } : {}),
        onSpawn: (pid) => logger.info({ pid, runDir, mode: k.mode, epochs: k.epochs }, 'kernel started'),
        onEvent: (e) => {
          deps.metrics.kernelEvent(e);
          if (e.event === 'epoch') logger.debug({ kernel: e }, 'kernel epoch');
          else logger.info({ kernel: e }, `kernel ${e.event}`);
        },
        onLine: (line) => logger.debug({ kernel: line }, 'kernel output'),
      }),
    );
    const promptBytes = await readFile(output.files['prompt.bin']!);
    const candidatePrompt = checkPrompt(float32FromBytes(promptBytes), bundle.manifest.prompt.shape, 'candidate prompt.bin');

    const noTower = k.mode === 'no-tower';
    const [candidate, current] = await withSpan(deps.tracer, 'trainer.gate', async () => [
      await withClassifier(
        noTower ? classifier.withNoTower(await readFile(output.files['text_no.onnx']!), candidatePrompt, 'candidate') : Promise.resolve(classifier.withPrompt(candidatePrompt, 'candidate')),
        (c) => evaluateClassifier(c, labelSet, heldOut),
      ),
      await withClassifier(servingClassifier(classifier, serving, deps.history), (c) => evaluateClassifier(c, labelSet, heldOut)),
    ]);
    deps.metrics.gated(candidate, current);
    const verdict = decide(candidate, current, options.margins);
    const base = { servingVersion: serving.version, candidate, serving: current, sampleCount: train.length };
    if (!verdict.publish) {
      await store.markRun('refused', through);
      return { ...base, status: 'refused', version: null, reasons: verdict.reasons };
    }

    const known = (await deps.history.list()).map((r) => r.record.version);
    const version = nextVersion(bundle.manifest.modelVersion, [...known, serving.version]);
    const record: ModelRelease = {
      model: options.modelName,
      version,
      parentVersion: serving.version,
      kind: noTower ? 'no_tower' : 'prompt',
      baseModelVersion: bundle.manifest.modelVersion,
      prompt: { shape: [...bundle.manifest.prompt.shape], dtype: 'float32', data: promptBytes, sha256: createHash('sha256').update(promptBytes).digest('hex') },
      artifact: noTower ? { uri: deps.history.uriOf(version, 'text_no.onnx'), sha256: output.result.files['text_no.onnx']!.sha256, bytes: output.result.files['text_no.onnx']!.bytes } : null,
      lineage: { sampleCount: train.length, metrics: lineageMetrics(candidate, current), kernelArgs: { ...output.args, labelSet: `${labelSet.id}@${labelSet.version}`, kernelSeconds: String(output.result.seconds) } },
      createdAt: Date.now(),
    };
    // Kept before it is published: a release on the topic is always one `models rollback` knows.
    await deps.history.save(record, { ...output.files, 'result.json': join(runDir, 'out', 'result.json') });
    await withSpan(deps.tracer, 'trainer.publish', () => publishRelease(deps.kafka, deps.codec, options.topics.modelReleases, record, options.trust.signer, readingKeys(options.trust)));
    await store.markRun('published', through);
    return { ...base, status: 'published', version, reasons: [] };
  } finally {
    await rm(runDir, { recursive: true, force: true });
  }
}

/** Runs `fn` on a classifier and frees the no tower it may have loaded. */
async function withClassifier<T>(made: Promise<ClipnClassifier>, fn: (c: ClipnClassifier) => Promise<T>): Promise<T> {
  const c = await made;
  try {
    return await fn(c);
  } finally {
    await c.releaseTower();
  }
}

/**
 * The serving model as the sidecars run it: the bundle with the serving prompt, and for a
 * no-tower release its tower from the release history (a tower the history no longer holds
 * cannot be compared against: the run fails rather than gate on the wrong model).
 */
async function servingClassifier(base: ClipnClassifier, serving: Awaited<ReturnType<typeof servingPrompt>>, history: ReleaseHistory): Promise<ClipnClassifier> {
  if (serving.release?.kind !== 'no_tower') return base.withPrompt(serving.prompt, serving.version);
  const graph = (await history.get(serving.version))?.files['text_no.onnx'];
  if (graph === undefined) throw new ClipnError('TRAINER_RELEASE_NOT_FOUND', `serving no-tower release ${serving.version}: its text_no.onnx is not in the release history`);
  return base.withNoTower(await readFile(graph), serving.prompt, serving.version);
}

/** The kernel's samples file: one JSON object a line (id, embedding, text, group, kind). */
async function writeSamples(path: string, samples: readonly Sample[]): Promise<void> {
  const fh = await open(path, 'w');
  try {
    for (let i = 0; i < samples.length; i += 1000) {
      const chunk = samples.slice(i, i + 1000).map((s) => JSON.stringify({ id: s.id, embedding: Array.from(s.embedding), text: s.text, group: s.group, kind: s.kind }) + '\n');
      await fh.write(chunk.join(''));
    }
  } finally {
    await fh.close();
  }
}

async function withSpan<T>(tracer: Tracer, name: string, fn: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, async (span) => {
    try {
      return await fn();
    } catch (error) {
      span.recordException(error as Error);
      span.setStatus({ code: 2, message: (error as Error).message });
      throw error;
    } finally {
      span.end();
    }
  });
}
