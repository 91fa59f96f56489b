/** Graceful stop of a long-running command on SIGTERM/SIGINT: stop once, flush telemetry, exit. */
import { toClipnError, type ClipnError } from '../../errors.js';
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

/** The installed handlers. */
export interface Shutdown {
  /** Whether a stop has begun (a start that fails because of it is not an error). */
  stopping(): boolean;
  /** Stops as on SIGTERM, then exits non-zero: the service failed for good and must be restarted. */
  fail(error: ClipnError): void;
}

/** Installs the SIGTERM/SIGINT handlers. */
export function handleShutdown(plan: ShutdownPlan): Shutdown {
  let stopping = false;
  const shutdown = (signal: string, exitCode = 0): void => {
    if (stopping) return;
    stopping = true;
    plan.logger.info({ signal, ...plan.fields }, plan.message);
    plan.stop().then(plan.flush).then(
      () => {
        plan.logger.info(exitCode === 0 ? 'stopped cleanly' : 'stopped after a fatal error');
        process.exit(exitCode);
      },
      (error: unknown) => {
        plan.logger.error({ code: toClipnError(error).code }, `shutdown failed: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return {
    stopping: () => stopping,
    fail: (error) => {
      plan.logger.fatal({ code: error.code }, error.message);
      shutdown('fatal error', 1);
    },
  };
}
