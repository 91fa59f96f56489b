/**
 * `clipn train`: the trainer service. `--once` catches up on the review topics, runs once and
 * exits: 0 a release was published, 3 the gate refused the candidate (or too few samples),
 * 4 there were no samples, 1 an error (its code on stderr). Without --once it runs until
 * SIGTERM/SIGINT (stop consuming, kill a running kernel, exit 0).
 */
import type { Command } from 'commander';
import { toClipnError } from '../../errors.js';
import { serviceTelemetry } from '../../service/assembly/telemetry.js';
import { startTelemetry } from '../../telemetry/sdk.js';
import { TrainerService } from '../../trainer/index.js';
import { runtime } from '../shared/runtime.js';
import { handleShutdown } from '../shared/shutdown.js';

/** Exit codes of `clipn train --once`. */
export const TRAIN_EXIT = { published: 0, error: 1, refused: 3, no_samples: 4 } as const;

export function register(program: Command): void {
  program
    .command('train')
    .description('learn new "no" prompts from reviewed samples and publish them when they are not worse')
    .option('--config <file.json>', 'config file (CLIPN_* environment variables override it)')
    .option('--once', `catch up on the review topics, run once, exit (${TRAIN_EXIT.published} published, ${TRAIN_EXIT.refused} refused, ${TRAIN_EXIT.no_samples} no samples, ${TRAIN_EXIT.error} error)`)
    .action(async (flags: { config?: string; once?: boolean }) => {
      const { config, logger, root } = runtime(flags);
      const otel = startTelemetry({ serviceName: `${config.telemetry.serviceName}-trainer`, otlpEndpoint: config.telemetry.otlpEndpoint });
      const trainer = new TrainerService({ config, logger, root, telemetry: serviceTelemetry(otel) });
      const { stopping } = handleShutdown({
        logger,
        message: 'shutting down: stopping the consumer and any kernel run',
        stop: () => trainer.stop(),
        flush: () => otel.shutdown(),
      });
      try {
        if (flags.once) {
          const outcome = await trainer.once();
          await otel.shutdown();
          process.stdout.write(JSON.stringify({ status: outcome.status, version: outcome.version, serving: outcome.servingVersion, candidate: outcome.candidate, servingMetrics: outcome.serving, regression: outcome.regression, reasons: outcome.reasons, samples: outcome.sampleCount }) + '\n');
          process.exit(TRAIN_EXIT[outcome.status]);
        }
        await trainer.start();
      } catch (error) {
        if (stopping()) return;
        const e = toClipnError(error);
        logger.fatal({ code: e.code, details: e.details }, `train failed: ${e.message}`);
        process.stderr.write(`error ${e.code}: ${e.message}\n`);
        await trainer.stop().catch(() => undefined);
        process.exit(TRAIN_EXIT.error);
      }
    });
}
