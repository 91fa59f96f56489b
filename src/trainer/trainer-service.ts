/**
 * `clipn train`: the trainer assembled from config. Long-running (`start`): consume review
 * items and decisions into the sample store, run after minNewSamples new samples or on the
 * schedule, gate, publish; /healthz /readyz /metrics. One-shot (`once`): catch up on both topics,
 * run once, stop. `stop` stops consuming, kills a running kernel and releases the store.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClipnClassifier } from '../clipn/index.js';
import { createCodec, type RecordCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { createKafka, ensureServiceTopics, kafkaLogSink, type Kafka } from '../kafka/index.js';
import { loadServiceClassifier } from '../service/assembly/classifier.js';
import { readyWhen, startHealthEndpoint } from '../service/assembly/health.js';
import { resolveTelemetry, type ResolvedTelemetry, type ServiceTelemetry } from '../service/assembly/telemetry.js';
import { HealthChecks } from '../telemetry/health.js';
import type { Logger } from '../telemetry/logger.js';
import type { HttpServer } from '../telemetry/types.js';
import { stopLeftoverKernel } from './kernel-runner.js';
import { trainerOptions, type TrainerOptions } from './options.js';
import { ReleaseHistory } from './release-history.js';
import { SampleConsumer } from './sample-consumer.js';
import { SampleStore } from './sample-store.js';
import { TrainerMetrics } from './trainer-metrics.js';
import { trainRun } from './training-run.js';
import type { RunOutcome } from './types.js';

/** What the trainer is built from. */
export interface TrainerServiceOptions {
  readonly config: Config;
  readonly logger: Logger;
  /** Base folder of relative paths in config (the package root). */
  readonly root: string;
  /** Telemetry from startTelemetry(); without it spans and metrics are no-ops. */
  readonly telemetry?: ServiceTelemetry;
}

/** Limit on catching up with the review topics in `once`. */
const CATCH_UP_TIMEOUT_MS = 120_000;
/** After a failed run, the trigger waits at least this long before trying again. */
const RETRY_AFTER_FAILURE_MS = 60_000;

/** The trainer service. */
export class TrainerService {
  readonly readiness = new HealthChecks();
  readonly options: TrainerOptions;
  private store: SampleStore | null = null;
  private consumer: SampleConsumer | null = null;
  private classifier: ClipnClassifier | null = null;
  private kafka: Kafka | null = null;
  private codec: RecordCodec | null = null;
  private http: HttpServer | null = null;
  private running: Promise<RunOutcome | null> | null = null;
  private readonly abort = new AbortController();
  private opening: Promise<void> | null = null;
  private schedule: NodeJS.Timeout | null = null;
  private stopReadiness: (() => void) | null = null;
  private retryAfter = 0;
  private readonly telemetry: ResolvedTelemetry;
  private readonly metrics: TrainerMetrics;

  constructor(private readonly deps: TrainerServiceOptions) {
    this.options = trainerOptions(deps.config, deps.root);
    this.telemetry = resolveTelemetry(deps.telemetry, 'clipn-trainer');
    this.metrics = new TrainerMetrics(this.telemetry.meter, this.telemetry.metrics);
  }

  /** The /healthz server's port, once started. */
  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  /** The sample store, once opened. */
  get samples(): SampleStore | null {
    return this.store;
  }

  /** Runs as a service until {@link stop}. */
  async start(): Promise<void> {
    const modelCheck = this.readiness.register('model', 'loading');
    const groupCheck = this.readiness.register('consumer-group', 'not joined');
    this.http = await startHealthEndpoint({ ...this.options.http, readiness: this.readiness, metricsHandler: this.telemetry.metricsHandler }, this.deps.logger);
    await this.open();
    if (this.abort.signal.aborted) throw new ClipnError('INTERRUPTED', 'the trainer was stopped during start-up');
    modelCheck.ready();
    this.consumer = this.newConsumer(() => this.maybeRun('new samples'));
    await this.consumer.start();
    this.stopReadiness = readyWhen(groupCheck, () => this.consumer?.ready === true);
    if (this.options.scheduleMs !== null) {
      this.schedule = setInterval(() => this.maybeRun('schedule'), this.options.scheduleMs);
      this.schedule.unref();
    }
    this.deps.logger.info({ topics: [this.options.topics.review, this.options.topics.decisions], group: this.options.groupId, minNewSamples: this.options.minNewSamples, scheduleMs: this.options.scheduleMs }, 'trainer consuming');
    this.maybeRun('start');
  }

  /** Catches up on both topics, runs once (when there are samples) and releases everything. */
  async once(): Promise<RunOutcome> {
    try {
      await this.open();
      this.consumer = this.newConsumer();
      await this.consumer.start();
      await this.consumer.catchUp(CATCH_UP_TIMEOUT_MS);
      await this.consumer.stop();
      this.consumer = null;
      this.reportCounts('caught up');
      return await this.run('once');
    } finally {
      await this.stop();
    }
  }

  /** Stops consuming, kills a running kernel, waits for the run to end and closes the store. */
  async stop(): Promise<void> {
    if (this.schedule) clearInterval(this.schedule);
    this.stopReadiness?.();
    this.abort.abort();
    // A model load in progress runs in the inference worker: exiting during it aborts the process.
    await this.opening?.catch(() => null);
    await this.consumer?.stop().catch((e: unknown) => this.deps.logger.warn({ code: toClipnError(e).code }, `stopping the consumer: ${(e as Error).message}`));
    this.consumer = null;
    await this.running?.catch(() => null);
    try {
      await this.store?.close();
      this.store = null;
    } finally {
      await this.classifier?.close();
      this.classifier = null;
      await this.http?.close();
    }
  }

  private newConsumer(onStored?: () => void): SampleConsumer {
    return new SampleConsumer({
      kafka: this.kafka!,
      codec: this.codec!,
      store: this.store!,
      groupId: this.options.groupId,
      topics: { review: this.options.topics.review, decisions: this.options.topics.decisions },
      logger: this.deps.logger,
      onStored: () => {
        this.metrics.store(this.store!.counts());
        onStored?.();
      },
    });
  }

  private open(): Promise<void> {
    this.opening = this.openModelAndStore();
    return this.opening;
  }

  private async openModelAndStore(): Promise<void> {
    const { config, logger } = this.deps;
    // The model first: the store refuses embeddings not of its dimension.
    this.classifier = await loadServiceClassifier(config, logger, { dir: this.options.bundleDir, topK: 1 });
    // The store's lock before the run folders: they belong to whoever holds it.
    this.store = await SampleStore.open({
      dir: this.options.storeDir,
      maxSamples: this.options.maxSamples,
      maxPendingDecisions: this.options.maxPendingDecisions,
      embedDim: this.classifier.bundle.manifest.architecture.embedDim,
      splitSalt: this.options.splitSalt,
      trainOnSampled: this.options.trainOnSampled,
      onRefused: (r) => {
        this.metrics.refused(r.reason);
        logger.warn({ code: 'TRAINER_SAMPLES_INVALID', item: r.id, reason: r.reason }, `review item refused: ${r.detail}`);
      },
    });
    await this.cleanRuns();
    this.reportCounts('sample store opened');
    this.codec = createCodec({ registryUrl: config.codec.registryUrl });
    this.kafka = createKafka(config.kafka, kafkaLogSink(logger));
    const t = this.options.topics;
    // As the sidecar creates them (kafka.newTopics), whichever of the two starts first.
    await ensureServiceTopics(this.kafka, config.kafka.newTopics, { stream: [t.review, t.decisions], sideChannels: [t.labelSets, t.modelReleases] });
  }

  /** Run folders left by a killed trainer: stop a kernel still running there, then remove them. */
  private async cleanRuns(): Promise<void> {
    const names = await readdir(this.options.runsDir).catch(() => [] as string[]);
    for (const name of names) {
      const dir = join(this.options.runsDir, name);
      if (!(await stat(dir).catch(() => null))?.isDirectory()) continue;
      const stopped = await stopLeftoverKernel(join(dir, 'kernel.pid'), dir);
      await rm(dir, { recursive: true, force: true });
      this.deps.logger.warn({ run: name, kernelStopped: stopped }, 'removed an unfinished training run');
    }
  }

  private reportCounts(message: string): void {
    const counts = this.store!.counts();
    this.metrics.store(counts);
    this.deps.logger.info({ ...counts, runs: this.store!.runs }, message);
  }

  private maybeRun(reason: string): void {
    if (this.running !== null || this.store === null || this.abort.signal.aborted || Date.now() < this.retryAfter) return;
    const { newSinceRun } = this.store.counts();
    const due = reason === 'schedule' ? newSinceRun > 0 : newSinceRun >= this.options.minNewSamples;
    if (!due) return;
    this.running = this.run(reason)
      .catch(() => null)
      .finally(() => {
        this.running = null;
        // Samples may have arrived during the run.
        if (!this.abort.signal.aborted) setImmediate(() => this.maybeRun('after run'));
      });
  }

  private async run(reason: string): Promise<RunOutcome> {
    const started = performance.now();
    const logger = this.deps.logger;
    this.metrics.runStarted();
    logger.info({ reason, ...this.store!.counts() }, 'training run triggered');
    try {
      const outcome = await trainRun({
        options: this.options,
        store: this.store!,
        classifier: this.classifier!,
        kafka: this.kafka!,
        codec: this.codec!,
        history: new ReleaseHistory(this.options.historyDir),
        logger,
        metrics: this.metrics,
        tracer: this.telemetry.tracer,
        signal: this.abort.signal,
      });
      const seconds = (performance.now() - started) / 1000;
      this.metrics.runEnded(outcome.status, seconds, outcome.candidate === null ? 'too_few_samples' : 'gate');
      this.metrics.store(this.store!.counts());
      const fields = { status: outcome.status, version: outcome.version, serving: outcome.servingVersion, candidate: outcome.candidate, servingMetrics: outcome.serving, regression: outcome.regression, reasons: outcome.reasons, samples: outcome.sampleCount, seconds: Math.round(seconds * 10) / 10 };
      if (outcome.status === 'published') logger.info(fields, `release ${outcome.version} published`);
      else if (outcome.status === 'refused') logger.warn(fields, `candidate refused: ${outcome.reasons.join('; ')}`);
      else logger.info(fields, 'nothing to train on');
      return outcome;
    } catch (error) {
      const e = toClipnError(error);
      this.metrics.runEnded('failed', (performance.now() - started) / 1000);
      this.retryAfter = Date.now() + RETRY_AFTER_FAILURE_MS;
      logger.error({ code: e.code, details: e.details }, `training run failed: ${e.message}`);
      throw e;
    }
  }
}
