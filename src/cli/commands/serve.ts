/** `clipn serve`: the Kafka stream processor. SIGTERM/SIGINT drain in-flight work and exit. */
import type { Command } from 'commander';
import { Sidecar } from '../../service/sidecar.js';
import { toClipnError } from '../../errors.js';
import { runtime } from '../shared/runtime.js';
import { handleShutdown } from '../shared/shutdown.js';
import { serviceTelemetry } from '../../service/assembly/telemetry.js';
import { startTelemetry } from '../../telemetry/sdk.js';

export function register(program: Command): void {
  program
    .command('serve')
    .description('tag images from Kafka with a class and OOD flags; route outliers to review')
    .option('--config <file.json>', 'config file (CLIPN_* environment variables override it)')
    .action(async (flags: { config?: string }) => {
      const { config, logger, root } = runtime(flags);
      const otel = startTelemetry({ serviceName: config.telemetry.serviceName, otlpEndpoint: config.telemetry.otlpEndpoint });
      const sidecar = new Sidecar({ config, logger, root, telemetry: serviceTelemetry(otel) });
      const shutdown = handleShutdown({
        logger,
        message: 'shutting down: finishing in-flight work',
        fields: { deadlineMs: config.processing.shutdownTimeoutMs },
        stop: () => sidecar.stop(),
        flush: () => otel.shutdown(),
      });
      // A consumer that crashed past its restarts: exit non-zero so the orchestrator restarts the pod.
      void sidecar.fatal.then((error) => shutdown.fail(error));
      try {
        await sidecar.start();
      } catch (error) {
        // A SIGTERM during the start: the shutdown path waits for the start to end and exits.
        if (shutdown.stopping()) return;
        const e = toClipnError(error);
        logger.fatal({ code: e.code }, `start failed: ${e.message}`);
        process.exit(1);
      }
    });
}
