/**
 * `clipn review tail`: the review queue as a person reads it.
 * `clipn review label-studio`: the review queue delivered to Label Studio by the label-studio
 * plugin, outside the sidecar (its own consumer group, committing after each task exists).
 */
import { isAbsolute, resolve } from 'node:path';
import { metrics, trace } from '@opentelemetry/api';
import type { Command } from 'commander';
import { createCodec, type ReviewItem } from '../../codec/index.js';
import { ClipnError, toClipnError } from '../../errors.js';
import { createKafka, kafkaLogSink } from '../../kafka/index.js';
import { asPlugin, BUILTIN_PLUGIN, PluginHost, sendPluginRecords } from '../../plugin/index.js';
import { withRetries, type RetryPolicy } from '../../retry.js';
import { HealthChecks } from '../../telemetry/index.js';
import { bundledLabelStudioModule } from '../shared/label-studio.js';
import { runtime } from '../shared/runtime.js';

interface Item {
  id: string;
  label: string;
  scores: { ctwLogOdds: number; atdLogOdds: number; msp: number };
  reasons: string[];
  rule: string;
  image: Buffer | { uri: string } | null;
  labelSet: { id: string; version: number };
  model: { promptVersion: string };
}

// A review sink is retried without end (nothing is skipped), backing off to a minute.
const SINK_RETRY: RetryPolicy = { attempts: Number.POSITIVE_INFINITY, initialBackoffMs: 1000, maxBackoffMs: 60_000 };

function where(image: Item['image']): string {
  if (image === null) return 'not kept';
  if (Buffer.isBuffer(image)) return `inline (${image.length} bytes)`;
  return image.uri;
}

export function register(program: Command): void {
  const review = program.command('review').description('the review queue');
  registerLabelStudio(review);
  review
    .command('tail')
    .option('--config <file.json>', 'config file')
    .option('--json', 'one JSON object per line (the image bytes left out)')
    .option('--from-beginning', 'start at the oldest item, not the newest')
    .option('--max <n>', 'stop after n items')
    .description('print review items as they arrive')
    .action(async (flags: { config?: string; json?: boolean; fromBeginning?: boolean; max?: string }) => {
      const { config } = runtime(flags);
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      const consumer = createKafka(config.kafka).consumer({ groupId: `clipn-review-tail-${process.pid}-${Date.now()}` });
      await consumer.connect();
      await consumer.subscribe({ topics: [config.kafka.topics.review], fromBeginning: Boolean(flags.fromBeginning) });
      const max = flags.max ? Number(flags.max) : Infinity;
      let seen = 0;
      const stop = async (): Promise<void> => {
        await consumer.disconnect();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.value) return;
          const item = (await codec.decode(message.value, 'ReviewItem')).value as Item;
          if (flags.json) {
            const { image, ...rest } = item as unknown as Record<string, unknown> & { image: Item['image']; imageEmbedding?: unknown };
            delete rest.imageEmbedding;
            process.stdout.write(JSON.stringify({ ...rest, image: where(image) }) + '\n');
          } else {
            process.stdout.write(
              `${item.id}  class ${item.label}  log-odds ctw ${item.scores.ctwLogOdds.toFixed(2)} atd ${item.scores.atdLogOdds.toFixed(2)}  msp ${item.scores.msp.toFixed(3)}  ` +
                `[${item.rule}: ${item.reasons.join('; ')}]  label set ${item.labelSet.id} v${item.labelSet.version}  prompt ${item.model.promptVersion}  image ${where(item.image)}\n`,
            );
          }
          // Disconnecting waits for this handler to return: stop after it has.
          if (++seen >= max) setImmediate(() => void stop());
        },
      });
    });
}

/** The plugin module this checkout ships (plugins/label-studio), as source (tsx) or compiled (dist). */
interface LabelStudioFlags {
  config?: string;
  options?: string;
  module?: string;
  group: string;
  fromLatest?: boolean;
  max?: string;
}

function registerLabelStudio(review: Command): void {
  review
    .command('label-studio')
    .description('deliver review items to Label Studio as tasks and its annotations to the decisions topic, outside the sidecar (the label-studio plugin through the plugin host)')
    .option('--config <file.json>', 'config file')
    .option('--options <json>', "the plugin's options as JSON (default: the options of the label-studio entry of plugins.modules)")
    .option('--module <path>', 'the plugin module (default: the entry of plugins.modules, else the bundled plugins/label-studio)')
    .option('--group <id>', 'consumer group of the review topic', 'clipn-label-studio')
    .option('--from-latest', 'a new group starts after the newest item (default: at the oldest)')
    .option('--max <n>', 'stop after n items (for scripts and tests)')
    .action(async (flags: LabelStudioFlags) => {
      const { config, logger } = runtime(flags);
      const entry = config.plugins.modules.find((m) => /label-studio/.test(m.module));
      let options: unknown = entry?.options;
      if (flags.options !== undefined) {
        try {
          options = JSON.parse(flags.options) as unknown;
        } catch (error) {
          throw new ClipnError('CONFIG_INVALID', `--options: expected JSON, got ${JSON.stringify(flags.options.slice(0, 80))} (${(error as Error).message})`);
        }
      }
      if (options === undefined) throw new ClipnError('CONFIG_INVALID', 'label-studio: expected --options or a plugins.modules entry for the label-studio plugin with its options (url, tokenEnv, ...)');
      const given = flags.module ?? entry?.module;
      const module = given === undefined ? bundledLabelStudioModule() : given.startsWith('.') || isAbsolute(given) ? resolve(given) : given;
      const max = flags.max === undefined ? Infinity : Number(flags.max);
      if (!(max > 0)) throw new ClipnError('CONFIG_INVALID', `--max: expected a positive number, got ${flags.max}`);

      const kafka = createKafka(config.kafka, kafkaLogSink(logger));
      const codec = createCodec({ registryUrl: config.codec.registryUrl });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      // Only this plugin: the built-in review sink (back to the review topic) is not called.
      const host = await PluginHost.load({
        config: { ...config, plugins: { ...config.plugins, modules: [{ module, options: (options ?? {}) as Record<string, unknown> }] } },
        logger,
        meter: metrics.getMeter('clipn-review-label-studio'),
        tracer: trace.getTracer('clipn-review-label-studio'),
        codec,
        produce: (records) => sendPluginRecords(producer, records),
        builtin: { reviewLimit: () => true },
      });
      const sinks = host.reviewSinks.filter((s) => s.plugin !== BUILTIN_PLUGIN);
      if (sinks.length === 0) throw new ClipnError('CONFIG_INVALID', `plugin module ${module}: provides no review sink`);
      await host.start(new HealthChecks());

      const stopping = new AbortController();
      const consumer = kafka.consumer({ groupId: flags.group, sessionTimeout: 30_000, heartbeatInterval: 3000 });
      let delivered = 0;
      let exitCode = 0;
      let stopped: Promise<void> | null = null;
      const stop = (code: number): Promise<void> => {
        exitCode = Math.max(exitCode, code);
        stopped ??= (async () => {
          stopping.abort();
          // The plugin first: its signal ends a delivery waiting for Label Studio, so the consumer can leave.
          await host.stop(logger);
          await consumer.disconnect().catch(() => undefined);
          await producer.disconnect().catch(() => undefined);
          logger.info({ delivered }, 'label-studio: stopped');
        })();
        return stopped;
      };
      const onSignal = (): void => void stop(0).then(() => process.exit(exitCode));
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (payload.restart) return;
        logger.error({ err: payload.error }, 'label-studio: the review consumer crashed');
        void stop(1).then(() => process.exit(exitCode));
      });

      await consumer.connect();
      await consumer.subscribe({ topics: [config.kafka.topics.review], fromBeginning: !flags.fromLatest });
      logger.info({ topic: config.kafka.topics.review, group: flags.group, module, plugins: host.names }, 'label-studio: consuming the review topic');
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ topic, partition, message, heartbeat }) => {
          if (stopping.signal.aborted) throw new ClipnError('INTERNAL', 'stopping');
          const next = (BigInt(message.offset) + 1n).toString();
          let item: ReviewItem | null = null;
          try {
            if (message.value && message.value.length > 0) item = (await codec.decode(message.value, 'ReviewItem')).value;
          } catch (error) {
            // A record that is not a review item can never become a task.
            logger.warn({ topic, partition, offset: message.offset, code: toClipnError(error).code }, `label-studio: skipping a record that is not a review item: ${(error as Error).message}`);
          }
          if (item !== null) {
            const meta = { id: item.id, key: message.key, headers: Object.fromEntries(Object.entries(message.headers ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v[0]! : v]]))) as Record<string, string | Buffer> };
            const beat = setInterval(() => void heartbeat().catch(() => undefined), 3000);
            try {
              // Nothing is skipped: a retriable failure (Label Studio down past the plugin's own patience) is tried
              // again without end; any other, or shutdown, stops the command with the offset not committed.
              await withRetries(
                async () => {
                  for (const { plugin, sink } of sinks) await asPlugin(plugin, 'review sink', () => sink.deliver(item!, meta));
                },
                SINK_RETRY,
                {
                  signal: stopping.signal,
                  onRetry: (e, attempt, waitMs) => logger.warn({ item: item!.id, attempt, waitMs, code: e.code }, `label-studio: delivery failed; trying again: ${e.message}`),
                },
              ).catch((error: unknown) => {
                const e = toClipnError(error);
                if (!stopping.signal.aborted) {
                  logger.error({ item: item!.id, code: e.code, offset: message.offset }, `label-studio: delivery failed: ${e.message}`);
                  void stop(1).then(() => process.exit(exitCode));
                }
                throw e;
              });
            } finally {
              clearInterval(beat);
            }
          }
          // The task exists (or the record can never be one): only now does the group move past it.
          await consumer.commitOffsets([{ topic, partition, offset: next }]);
          if (item !== null && ++delivered >= max) setImmediate(() => void stop(0).then(() => process.exit(exitCode)));
        },
      });
    });
}
