/**
 * One training run: the stored samples split into train and held-out, the kernel trained on
 * the first in a fresh run folder (starting from the serving release: its prompts, or its whole
 * no tower), candidate and serving model scored on the held-out samples and on the regression
 * set (every reviewed concept, the bundle's held-out sets), and a release published only when
 * both gates let it through. Nothing is published before the kernel's output has been verified,
 * and the run folder is removed whatever happens.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kafka } from '../kafka/index.js';
import type { Tracer } from '@opentelemetry/api';
import { parseLabelSet, type ClipnClassifier, type LabelSet } from '../clipn/index.js';
import type { ModelRelease, RecordCodec } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import { checkPrompt, float32FromBytes } from '../model/index.js';
import type { Logger } from '../telemetry/logger.js';
import { evaluateClassifier, evaluateRegression } from './evaluator.js';
import { decide, lineageMetrics } from './gate.js';
import { regressionLineage, regressionReasons } from './regression-gate.js';
import { bundlePart, heldOutDirOf, reviewedPart, type RegressionPart } from './regression-set.js';
import { PROMPT_FILE, PROMPT_SET_FILE, runKernel } from './kernel-runner.js';
import { knownTextFilter } from './text-filter.js';
import type { TrainerOptions } from './options.js';
import { latestLabelSets, latestRelease, publishRelease, servingPrompt } from './release-channel.js';
import { readingKeys } from '../trust/index.js';
import { nextVersion, type ReleaseHistory } from './release-history.js';
import type { SampleStore } from './sample-store.js';
import type { TrainerMetrics } from './trainer-metrics.js';
import type { GateMetrics, RunOutcome, Sample } from './types.js';
import type { RegressionMetrics } from './regression-gate.js';

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
 * The label set the gate evaluates against: `id` (configured, never chosen by the samples) at its
 * latest version on the label-set topic; when the topic does not have it, the labels reviewed
 * held-out samples of that label set carried.
 * @throws ClipnError TRAINER_LABEL_SET_UNKNOWN when neither knows it.
 */
export function chooseLabelSet(id: string, onTopic: ReadonlyMap<string, LabelSet>, heldOut: readonly Sample[]): LabelSet {
  const latest = onTopic.get(id);
  if (latest) return latest;
  const carried = heldOut.find((s) => s.labelSetId === id && s.source === 'decision');
  if (carried === undefined) throw new ClipnError('TRAINER_LABEL_SET_UNKNOWN', `label set ${id}: expected it on the label-set topic or on reviewed held-out samples, found neither`);
  return parseLabelSet({ id, labels: [...carried.labels] }, `label set ${id} (from review items)`);
}

/** Runs once; the outcome says whether a release was published, refused, or there was nothing to train on. */
export async function trainRun(deps: RunDeps): Promise<RunOutcome> {
  const { options, store, classifier, logger } = deps;
  const bundle = classifier.bundle;
  const through = store.lastSeq;
  const template = classifier.defaultTemplates[0] ?? 'a photo of a {}.';
  const samples = store.samples({ template, heldOutShare: options.heldOutShare });
  const empty = { version: null, servingVersion: null, candidate: null, serving: null, regression: null, sampleCount: samples.length };
  if (samples.length === 0) return { ...empty, status: 'no_samples', reasons: ['the store holds no joined samples'] };
  const known = await knownTextFilter(bundle);
  let unknownTexts = 0;
  // Sorted by item id: the same samples train the same model, whatever order Kafka delivered them in.
  const train = samples
    .filter((s) => s.split === 'train')
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
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
  const labelSet = chooseLabelSet(options.gateLabelSet, labelSets, heldOut);
  const init = await startingPoint(serving, deps.history, options.kernel.mode, logger);
  const regression = await regressionSet(deps, heldOut);
  logger.info({ samples: samples.length, train: train.length, heldOutId: heldId, heldOutOod: heldOod, serving: serving.version, labelSet: labelSet.id, labelSetVersion: labelSet.version, init: init.from, regression: regression.map((p) => ({ source: p.source, id: p.id.embeddings.length, concepts: Object.fromEntries([...p.concepts].map(([k, v]) => [k, v.length])) })) }, 'training run starting');

  await mkdir(options.runsDir, { recursive: true });
  const runDir = await mkdtemp(join(options.runsDir, 'run-'));
  try {
    const samplesFile = join(runDir, 'samples.jsonl');
    await writeSamples(samplesFile, train);
    const labelSetFile = join(runDir, 'label-set.json');
    await writeFile(labelSetFile, JSON.stringify({ labels: labelSet.labels, templates: labelSet.templates ?? classifier.defaultTemplates }));
    const k = options.kernel;
    const output = await withSpan(deps.tracer, 'trainer.kernel', () =>
      runKernel({
        ...k,
        pythonBin: options.pythonBin,
        bundleDir: options.bundleDir,
        samplesFile,
        outDir: join(runDir, 'out'),
        initPromptSet: init.promptSet,
        initNoTower: init.noTower,
        labelSetFile,
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
    const promptBytes = await readFile(output.files[PROMPT_FILE]!);
    const candidatePrompt = checkPrompt(float32FromBytes(promptBytes), bundle.manifest.prompt.shape, 'candidate prompt.bin');

    const noTower = k.mode === 'no-tower';
    const measure = async (c: ClipnClassifier): Promise<Measured> => ({ heldOut: await evaluateClassifier(c, labelSet, heldOut), regression: await evaluateRegression(c, labelSet, regression) });
    const [candidate, current] = await withSpan(deps.tracer, 'trainer.gate', async () => [
      await withClassifier(
        noTower ? classifier.withNoTower(await readFile(output.files['text_no.onnx']!), candidatePrompt, 'candidate') : Promise.resolve(classifier.withPrompt(candidatePrompt, 'candidate')),
        measure,
      ),
      await withClassifier(servingClassifier(classifier, serving, deps.history), measure),
    ]);
    deps.metrics.gated(candidate.heldOut, current.heldOut);
    const verdict = decide(candidate.heldOut, current.heldOut, options.margins);
    const reasons = [...verdict.reasons, ...regressionReasons(candidate.regression, current.regression, options.regression.margin, options.regression.minSamples)];
    const base = { servingVersion: serving.version, candidate: candidate.heldOut, serving: current.heldOut, regression: { candidate: candidate.regression, serving: current.regression }, sampleCount: train.length };
    if (reasons.length > 0) {
      await store.markRun('refused', through);
      return { ...base, status: 'refused', version: null, reasons };
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
      lineage: {
        sampleCount: train.length,
        metrics: { ...lineageMetrics(candidate.heldOut, current.heldOut), ...regressionLineage(candidate.regression, current.regression) },
        kernelArgs: { ...output.args, labelSet: `${labelSet.id}@${labelSet.version}`, kernelSeconds: String(output.result.seconds) },
      },
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

/** One model's numbers: on the held-out reviewed samples, and on the regression set. */
interface Measured {
  readonly heldOut: GateMetrics;
  readonly regression: RegressionMetrics;
}

/**
 * Where the kernel starts: the serving release, so runs build on each other. A no-tower run
 * continues the serving no-tower release's tower (its no_tower.pt) or, from a prompt release,
 * the bundle's tower with its prompts; a prompt run continues the serving release's prompt set.
 */
async function startingPoint(serving: Awaited<ReturnType<typeof servingPrompt>>, history: ReleaseHistory, mode: 'prompts' | 'no-tower', logger: Logger): Promise<{ promptSet: string | null; noTower: string | null; from: string }> {
  if (serving.release === null) return { promptSet: null, noTower: null, from: 'bundle' };
  const kept = await history.get(serving.version);
  const noTower = mode === 'no-tower' && serving.release.kind === 'no_tower' ? (kept?.files['no_tower.pt'] ?? null) : null;
  const promptSet = kept?.files[PROMPT_SET_FILE] ?? null;
  if (kept === null || (mode === 'no-tower' && serving.release.kind === 'no_tower' && noTower === null)) {
    logger.warn({ serving: serving.version, kept: kept !== null }, 'the serving release cannot be continued (not in the release history, or a no-tower release without no_tower.pt): training starts from the bundle; the regression gate guards what it knew');
  }
  if (serving.release.kind === 'no_tower' && mode === 'prompts') {
    logger.warn({ serving: serving.version }, 'prompt training on the bundle\'s tower while a no-tower release is served: the regression gate guards what that tower knew');
  }
  return { promptSet: noTower !== null ? null : promptSet, noTower, from: noTower !== null ? `${serving.version} (no tower)` : promptSet !== null ? `${serving.version} (prompts)` : 'bundle' };
}

/** The reviewed held-out samples by concept, and the bundle's held-out images when it names them. */
async function regressionSet(deps: RunDeps, heldOut: readonly Sample[]): Promise<RegressionPart[]> {
  const parts = [reviewedPart(heldOut)];
  const dir = await heldOutDirOf(deps.options.bundleDir, deps.options.regression);
  if (dir !== null) parts.push(await bundlePart(deps.classifier, dir, deps.options.regression.cacheDir, deps.logger));
  return parts;
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
