/** Graceful stop of a long-running command on SIGTERM/SIGINT: stop once, flush telemetry, exit. */
import { toClipnError } from '../../errors.js';
import type { Logger } from '../../telemetry/logger.js';

/** What a stop does and says. */
export interface ShutdownPlan {
  logger: Logger;
  /** Logged with the signal when the stop begins. */
  message: string;
  /** Extra fields of that log line. */
  fields?: Record<string, unknown>;
  /** Stops the service (drain, kill children). */
  stop: () => Promise<void>;
  /** Flushes telemetry after the stop. */
  flush: () => Promise<void>;
}

/**
 * Installs the SIGTERM/SIGINT handlers; the returned function tells whether a stop has begun
 * (a start that fails because of it is not an error).
 */
export function handleShutdown(plan: ShutdownPlan): () => boolean {
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    plan.logger.info({ signal, ...plan.fields }, plan.message);
    plan.stop().then(plan.flush).then(
      () => {
        plan.logger.info('stopped cleanly');
        process.exit(0);
      },
      (error: unknown) => {
        plan.logger.error({ code: toClipnError(error).code }, `shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return () => stopping;
}
