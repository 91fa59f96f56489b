/**
 * The probe and scrape endpoint: GET /healthz (liveness checks: restart me when failing),
 * GET /readyz (readiness checks: send me no work when failing), GET /metrics (Prometheus text
 * from the SDK's reader). One small server for all three, so the Prometheus exporter never
 * opens a port of its own.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClipnError } from '../errors.js';
import { checkHttpServerOptions, type HttpServerOptions } from './options.js';
import type { HealthCheck, HealthReport, HttpServer } from './types.js';

export type { HealthCheck, HealthReport, HttpServer } from './types.js';

/** Named checks (readiness: "model", "label-set:default", "consumer"; liveness: "event-loop", "consumer"). */
export class HealthChecks {
  // name -> null when passing, else the reason it is not.
  private readonly checks = new Map<string, string | null>();

  /**
   * Registers a check that fails with `reason` until its `ready()` is called.
   * @throws ClipnError INTERNAL when the name is empty or already registered.
   */
  register(name: string, reason = 'not ready yet'): HealthCheck {
    if (name.trim() === '') throw new ClipnError('INTERNAL', 'readiness check name: expected a non-empty string, got ""');
    if (this.checks.has(name)) throw new ClipnError('INTERNAL', `readiness check "${name}": expected a new name, got one already registered`);
    this.checks.set(name, reason);
    return {
      ready: () => void this.checks.set(name, null),
      notReady: (why: string) => void this.checks.set(name, why.trim() === '' ? 'not ready' : why),
    };
  }

  /** True when every registered check passes. */
  isReady(): boolean {
    for (const v of this.checks.values()) if (v !== null) return false;
    return true;
  }

  /** The state of every check. */
  report(): HealthReport {
    const failing: Record<string, string> = {};
    const passing: string[] = [];
    for (const [name, reason] of this.checks) {
      if (reason === null) passing.push(name);
      else failing[name] = reason;
    }
    return { ready: Object.keys(failing).length === 0, failing, passing };
  }
}

const ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

function json(res: ServerResponse, status: number, body: unknown, head = false): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}

function route(options: HttpServerOptions, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!;
  if (!ROUTES.has(path)) return json(res, 404, { error: `no route ${path}: expected /healthz, /readyz or /metrics` });
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.setHeader('allow', 'GET, HEAD');
    return json(res, 405, { error: `${req.method} ${path}: expected GET or HEAD` });
  }
  if (path === '/healthz') {
    const l = options.liveness?.report() ?? { ready: true, failing: {}, passing: [] };
    return l.ready ? json(res, 200, { status: 'ok', passing: l.passing }, head) : json(res, 503, { status: 'unhealthy', failing: l.failing, passing: l.passing }, head);
  }
  if (path === '/readyz') {
    const r = options.readiness.report();
    return r.ready ? json(res, 200, { status: 'ready', passing: r.passing }, head) : json(res, 503, { status: 'not ready', failing: r.failing, passing: r.passing }, head);
  }
  if (!options.metricsHandler) return json(res, 404, { error: 'metrics are not served here: no metrics handler configured' });
  options.metricsHandler(req, res);
}

/**
 * Starts the probe/scrape server on `host:port` (port 0: an ephemeral port, read back from the
 * result).
 * @throws ClipnError CONFIG_INVALID for a bad host/port or when the address cannot be bound.
 */
export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  checkHttpServerOptions(options);
  const server = createServer((req, res) => {
    try {
      route(options, req, res);
    } catch (error) {
      // A failing handler must not take the probe server down with it.
      if (!res.headersSent) json(res, 500, { error: error instanceof Error ? error.message : String(error) });
      else res.end();
    }
  });
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(new ClipnError('CONFIG_INVALID', `telemetry.http: expected to listen on ${options.host}:${options.port}, got ${error.code ?? error.message}`, { cause: error, details: { host: options.host, port: options.port } }));
    };
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  let closing: Promise<void> | null = null;
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive clients (fetch, Prometheus) would otherwise hold close() open.
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
