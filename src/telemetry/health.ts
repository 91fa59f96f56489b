/** The HTTP endpoint for probes and scraping: /healthz, /readyz, and /metrics when a handler is given. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Named readiness checks; ready when every registered check is. */
export class Readiness {
  private readonly checks = new Map<string, string | null>();

  /** Registers a check, not ready until `ready()` is called. */
  register(name: string, reason = 'starting'): { ready(): void; notReady(reason: string): void } {
    this.checks.set(name, reason);
    return { ready: () => void this.checks.set(name, null), notReady: (why) => void this.checks.set(name, why) };
  }

  get ok(): boolean {
    return [...this.checks.values()].every((v) => v === null);
  }

  failing(): Record<string, string> {
    return Object.fromEntries([...this.checks].filter(([, v]) => v !== null) as Array<[string, string]>);
  }
}

export interface HttpServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: {
  host: string;
  port: number;
  readiness: Readiness;
  metrics?: (req: IncomingMessage, res: ServerResponse) => void;
}): Promise<HttpServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/healthz') return json(200, { status: 'ok' });
    if (path === '/readyz') return options.readiness.ok ? json(200, { status: 'ready' }) : json(503, { status: 'not ready', failing: options.readiness.failing() });
    if (path === '/metrics' && options.metrics) return options.metrics(req, res);
    json(404, { error: 'not found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
