/**
 * The sidecar assembled from config: model, codec, Kafka, side channels, processor, health.
 * Start order matters: the model and the label sets must be in place before the consumer joins,
 * and the service reports ready only when all three are.
 */
import { once } from 'node:events';
import type { Kafka, Producer } from '../kafka/index.js';
import { createCodec, type RecordCodec } from '../codec/index.js';
import type { Config } from '../config/index.js';
import { ClipnError } from '../errors.js';
import { createKafka, DEFAULT_MAX_MESSAGE_BYTES, ensureServiceTopics, kafkaLogSink, maxMessageBytes, withAdmin } from '../kafka/index.js';
import { PluginHost, sendPluginRecords } from '../plugin/index.js';
import { recordsLimit } from '../stream/produce-plan.js';
import { labelSetHandler, type WatcherEvents } from '../stream/label-set-watcher.js';
import { StreamProcessor } from '../stream/processor.js';
import { releaseHandler } from '../stream/release-watcher.js';
import { Serial } from '../stream/serial.js';
import { ServingState } from '../stream/serving-state.js';
import { SideChannel } from '../stream/side-channel.js';
import { trustOptions } from '../trust/index.js';
import { watchEventLoop } from '../telemetry/event-loop.js';
import { HealthChecks, type HttpServer } from '../telemetry/health.js';
import type { Logger } from '../telemetry/logger.js';
import { loadServiceClassifier } from './assembly/classifier.js';
import { startHealthEndpoint } from './assembly/health.js';
import { resolveTelemetry, type ServiceTelemetry } from './assembly/telemetry.js';

export interface SidecarOptions {
  config: Config;
  logger: Logger;
  /** Base folder for relative paths in config (the package root). */
  root: string;
  /** Telemetry from startTelemetry(); without it spans and metrics are no-ops. */
  telemetry?: ServiceTelemetry;
}

export class Sidecar {
  readonly readiness = new HealthChecks();
  readonly liveness = new HealthChecks();
  private http: HttpServer | null = null;
  private stopWatch: (() => void) | null = null;
  private plugins: PluginHost | null = null;
  private pluginProducer: Producer | null = null;
  private resolveFatal!: (error: ClipnError) => void;
  /** Settles when processing has failed for good (the consumer crashed past its restarts): the caller should exit non-zero. */
  readonly fatal: Promise<ClipnError> = new Promise((resolve) => (this.resolveFatal = resolve));
  private channels: SideChannel[] = [];
  private processor: StreamProcessor | null = null;
  private kafka: Kafka | null = null;
  state: ServingState | null = null;
  codec: RecordCodec | null = null;

  private starting: Promise<void> | null = null;
  /** Aborted by {@link stop}: the start goes no further. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: SidecarOptions) {}

  get httpPort(): number | null {
    return this.http?.port ?? null;
  }

  /**
   * Loads the model, joins the side channels and starts consuming. A {@link stop} during the
   * start makes it reject with INTERRUPTED at its next step; the stop waits for that.
   */
  start(): Promise<void> {
    this.starting ??= this.startUp();
    return this.starting;
  }

  /** Throws INTERRUPTED once a stop was asked for: the start goes no further. */
  private checkpoint(): void {
    if (this.stopping.signal.aborted) throw new ClipnError('INTERRUPTED', 'the sidecar was stopped during start-up');
  }

  /** `work`, or INTERRUPTED as soon as a stop is asked for (for waits with no end of their own). */
  private async unlessStopped<T>(work: Promise<T>): Promise<T> {
    // Checked first: a listener added after the abort would never hear it.
    this.checkpoint();
    await Promise.race([work, once(this.stopping.signal, 'abort')]);
    this.checkpoint();
    return work;
  }

  private async startUp(): Promise<void> {
    this.checkpoint();
    const { config, logger } = this.options;
    // Keys first: a key that cannot be read stops the start before anything is loaded.
    const trust = trustOptions(config.trust, this.options.root);
    const model = this.readiness.register('model', 'loading');
    const labels = this.readiness.register(`label-set:${config.processing.defaultLabelSet}`, `not on ${config.kafka.topics.labelSets} yet (clipn labels put)`);
    const consumer = this.readiness.register('consumer', 'not started');
    const consumerAlive = this.liveness.register('consumer');
    consumerAlive.ready();
    const telemetry = resolveTelemetry(this.options.telemetry, 'clipn-sidecar');
    this.stopWatch = watchEventLoop(this.liveness.register('event-loop'), { blockedMs: config.telemetry.health.eventLoopBlockedMs, windowMs: config.telemetry.health.eventLoopWindowMs }, {
      stall: (ms) => logger.warn({ blockedMs: Math.round(ms) }, 'the event loop was blocked'),
      delay: (ms) => telemetry.metrics.eventLoopDelay(ms),
    });
    this.http = await startHealthEndpoint({ ...config.telemetry.http, readiness: this.readiness, liveness: this.liveness, metricsHandler: telemetry.metricsHandler }, logger);

    this.checkpoint();
    // Not raced with the stop: the load runs in the inference worker, and exiting the process
    // while onnxruntime-node is inside a call aborts it. The stop waits for the load instead.
    const classifier = await loadServiceClassifier(config, logger, { dir: config.model.dir, topK: config.processing.review.topK });
    this.state = new ServingState(classifier);
    this.checkpoint();
    model.ready();
    void classifier.lost.then((error) => this.resolveFatal(error));
    this.codec = createCodec({ registryUrl: config.codec.registryUrl });
    this.kafka = createKafka(config.kafka, kafkaLogSink(logger));

    const t = config.kafka.topics;
    await ensureServiceTopics(this.kafka, config.kafka.newTopics, { stream: [...t.input, t.results, t.review, t.deadLetter], sideChannels: [t.labelSets, t.modelReleases] });
    this.checkpoint();
    const maxBytes = await withAdmin(this.kafka, (admin) => maxMessageBytes(admin, [t.results, t.review, t.deadLetter]));
    // Records are produced within each output topic's max.message.bytes (produce-plan.ts).
    const limit = (topic: string): number => recordsLimit(maxBytes.get(topic) ?? DEFAULT_MAX_MESSAGE_BYTES);

    const kafka = this.kafka;
    this.plugins = await PluginHost.load({
      config,
      logger,
      meter: telemetry.meter,
      tracer: telemetry.tracer,
      codec: this.codec,
      produce: async (records) => {
        this.pluginProducer ??= kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
        await this.pluginProducer.connect();
        await sendPluginRecords(this.pluginProducer, records);
      },
      builtin: { reviewLimit: (bytes) => bytes <= limit(t.review) },
    });
    this.checkpoint();
    await this.plugins.start(this.readiness);
    this.checkpoint();
    logger.info({ plugins: this.plugins.names }, 'plugins started');

    const m = telemetry.metrics;
    let cacheSeen = { hits: 0, misses: 0 };
    const serving = (): void => {
      const s = this.state!.current;
      // The prompt version names the release (<model version>/p<n>): a hot swap changes it.
      m.modelInService(s.classifier.modelName, s.classifier.promptVersion);
      for (const [id, p] of s.labelSets) m.labelSetInService(id, p.labelSet.version);
      m.textCacheLookups(s.classifier.cache.stats.hits - cacheSeen.hits, s.classifier.cache.stats.misses - cacheSeen.misses);
      cacheSeen = { ...s.classifier.cache.stats };
    };
    const metricKind = (kind: 'label-set' | 'release') => (kind === 'label-set' ? 'label_set' : 'model');
    const events: WatcherEvents = {
      applied: (kind, id, version, detail) => {
        logger.info({ kind, id, version, ...detail }, `${kind} applied`);
        m.releaseAccepted(metricKind(kind));
        serving();
        if (kind === 'label-set' && id === config.processing.defaultLabelSet && this.state?.current.labelSets.has(id)) labels.ready();
      },
      removed: (kind, id) => {
        logger.warn({ kind, id }, `${kind} removed (a tombstone on the label-set topic)`);
        m.labelSetRemoved(id);
        serving();
      },
      refused: (kind, id, error) => {
        logger.warn({ kind, id, code: error.code, reason: error.message }, `${kind} refused`);
        m.releaseRefused(metricKind(kind), error.code);
      },
    };
    const serial = new Serial();
    const codec = this.codec;
    const state = this.state;
    const plugins = this.plugins;
    if (trust.keys === null) logger.warn({ topics: [t.labelSets, t.modelReleases] }, 'trust.publicKeys is not set: label sets and model releases are applied unsigned, from anyone who can produce to their topics');
    else logger.info({ keyIds: [...trust.keys.keys()] }, 'side channels: only records signed by these keys are applied');
    const labelPolicy = { keys: trust.keys, defaultLabelSet: config.processing.defaultLabelSet };
    const releasePolicy = { keys: trust.keys, maxArtifactBytes: trust.maxArtifactBytes };
    this.channels = [
      new SideChannel(this.kafka, t.labelSets, `${config.kafka.groupId}-labels`, labelSetHandler(codec, state, serial, events, config.processing.labelSets, (ls) => plugins.checkRule(ls), labelPolicy)),
      new SideChannel(this.kafka, t.modelReleases, `${config.kafka.groupId}-releases`, releaseHandler(codec, state, serial, config.processing.modelName, events, config.model.releaseArtifactRoot, releasePolicy)),
    ];
    // Each start is bounded by Kafka's own retries; only the waits below may last for ever.
    for (const c of this.channels) await c.start();
    await this.unlessStopped(Promise.all(this.channels.map((c) => c.caughtUp)));
    logger.info({ labelSets: [...state.current.labelSets.keys()], prompt: state.current.classifier.promptVersion }, 'side channels caught up');
    if (!state.current.labelSets.has(config.processing.defaultLabelSet)) {
      logger.warn({ labelSet: config.processing.defaultLabelSet }, 'default label set not on the label-set topic yet: waiting for it (clipn labels put)');
      await this.unlessStopped(new Promise<void>((resolveWait) => state.onChange((s) => s.labelSets.has(config.processing.defaultLabelSet) && resolveWait())));
    }
    this.checkpoint();
    this.processor = new StreamProcessor({
      config,
      kafka: this.kafka,
      codec,
      state,
      logger,
      tracer: telemetry.tracer,
      metrics: m,
      health: { readiness: consumer, liveness: consumerAlive, onFatal: (e) => this.resolveFatal(e) },
      plugins,
      limit,
    });
    await this.processor.start();
    logger.info({ topics: t.input, group: config.kafka.groupId, delivery: config.processing.delivery }, 'consuming');
  }

  /** Stops consuming (draining what is in flight), then the side channels, plugins, model and HTTP endpoint. A start in progress is ended first. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.starting?.catch(() => undefined);
    this.stopWatch?.();
    try {
      await this.processor?.stop();
      await this.plugins?.stop(this.options.logger);
      await this.pluginProducer?.disconnect();
      await Promise.all(this.channels.map((c) => c.stop()));
    } finally {
      // Also after a failed drain: closing the model waits for a run in progress, and the process
      // exits next; an exit while onnxruntime-node is inside a call aborts it.
      await this.state?.current.classifier.close();
      await this.http?.close();
    }
  }
}
