/**
 * Watching a running sidecar from outside, as an orchestrator would: its health endpoint's
 * answer times, and its resident memory (peak and now) from /proc.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';

/** One GET on 127.0.0.1:port; resolves with the status, or 0 when no answer came within `timeoutMs`. */
export function httpStatus(port: number, path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Polls a health path every `everyMs` until stopped; keeps the slowest answer and any failure. */
export function probeHealth(port: number, path = '/healthz', everyMs = 200): { stop(): Promise<{ probes: number; slowestMs: number; failures: string[] }> } {
  let slowestMs = 0;
  let probes = 0;
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const started = performance.now();
      const status = await httpStatus(port, path, 5000);
      const ms = performance.now() - started;
      probes++;
      slowestMs = Math.max(slowestMs, ms);
      if (status !== 200) failures.push(`${path} answered ${status || 'nothing'} after ${Math.round(ms)} ms`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { probes, slowestMs, failures };
    },
  };
}

/** Resident memory of a process in bytes: now (VmRSS) and the peak since it started (VmHWM). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/** The port a `clipn serve` process logged for its health endpoint, once it has. */
export function loggedPort(output: string): number | null {
  for (const line of output.split('\n')) {
    if (!line.includes('health endpoint listening')) continue;
    try {
      const port = (JSON.parse(line) as { port?: number }).port;
      if (typeof port === 'number') return port;
    } catch {
      // not a JSON line
    }
  }
  return null;
}
