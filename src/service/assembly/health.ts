/** A service's probe and scrape endpoint, and readiness checks that follow a condition. */
import { startHttpServer, type HealthCheck, type HttpServer } from '../../telemetry/health.js';
import type { Logger } from '../../telemetry/logger.js';
import type { HttpServerOptions } from '../../telemetry/options.js';

/**
 * Starts /healthz, /readyz and /metrics and logs the port it listens on (port 0: any free one).
 * @throws ClipnError CONFIG_INVALID when it cannot listen there.
 */
export async function startHealthEndpoint(options: HttpServerOptions, logger: Logger): Promise<HttpServer> {
  const http = await startHttpServer(options);
  logger.info({ port: http.port }, 'health endpoint listening');
  return http;
}

/**
 * Passes `check` once `isReady()` holds, asked every `intervalMs` (something with no event to
 * wait on, e.g. a consumer group joined). Returns a function that stops asking.
 */
export function readyWhen(check: HealthCheck, isReady: () => boolean, intervalMs = 100): () => void {
  const poll = setInterval(() => {
    if (!isReady()) return;
    check.ready();
    clearInterval(poll);
  }, intervalMs);
  // A probe must not keep the process alive.
  poll.unref();
  return () => clearInterval(poll);
}
