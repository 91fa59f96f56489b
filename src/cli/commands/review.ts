/** `clipn review tail`: the review queue as a person reads it. */
import type { Command } from 'commander';
import { createCodec } from '../../codec/index.js';
import { createKafka } from '../../kafka/index.js';
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

function where(image: Item['image']): string {
  if (image === null) return 'not kept';
  if (Buffer.isBuffer(image)) return `inline (${image.length} bytes)`;
  return image.uri;
}

export function register(program: Command): void {
  program
    .command('review')
    .description('the review queue')
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
