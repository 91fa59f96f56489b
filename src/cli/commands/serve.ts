/** `clipn serve`: the Kafka stream processor. SIGTERM/SIGINT drain in-flight work and exit. */
import type { Command } from 'commander';
import { Sidecar } from '../../service/sidecar.js';
import { toClipnError } from '../../errors.js';
import { runtime } from '../shared/runtime.js';
import { startTelemetry } from '../../telemetry/sdk.js';
import { Metrics } from '../../telemetry/metrics.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('tag images from Kafka with a class and OOD flags; route outliers to review')
    .option('--config <file.json>', 'config file (CLIPN_* environment variables override it)')
    .action(async (flags: { config?: string }) => {
      const { config, logger, root } = runtime(flags);
      const otel = startTelemetry({ serviceName: config.telemetry.serviceName, otlpEndpoint: config.telemetry.otlpEndpoint });
      const telemetry = { tracer: otel.tracer, metrics: new Metrics(otel.meter), metricsHandler: otel.metricsHandler };
      const sidecar = new Sidecar({ config, logger, root, telemetry });
      let stopping = false;
      const shutdown = (signal: string): void => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal, deadlineMs: config.processing.shutdownTimeoutMs }, 'shutting down: finishing in-flight work');
        sidecar.stop().then(() => otel.shutdown()).then(
          () => {
            logger.info('stopped cleanly');
            process.exit(0);
          },
          (error) => {
            logger.error({ code: toClipnError(error).code }, `shutdown failed: ${(error as Error).message}`);
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      try {
        await sidecar.start();
      } catch (error) {
        const e = toClipnError(error);
        logger.fatal({ code: e.code }, `start failed: ${e.message}`);
        process.exit(1);
      }
    });
}
