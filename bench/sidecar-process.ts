/**
 * A real `clipn serve` child process for the benchmarks: started with CLIPN_* variables on a
 * free port, awaited on /readyz, scraped on /metrics, its JSON log lines parsed as they come,
 * its memory read from /proc, and stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ROOT } from './python.js';

export interface LogLine {
  msg?: string;
  [key: string]: unknown;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** One sample of a Prometheus text exposition: name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parseProm(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

export class ServeProcess {
  readonly logs: LogLine[] = [];
  private tail = '';
  private readonly exited: Promise<number | null>;
  private listeners: Array<(l: LogLine) => void> = [];

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout!.on('data', (d: Buffer) => this.feed(d.toString()));
    child.stderr!.on('data', (d: Buffer) => this.feed(d.toString()));
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static async start(env: Record<string, string>): Promise<ServeProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'bin', 'clipn.js'), 'serve'], {
      cwd: ROOT,
      env: { ...process.env, ...env, CLIPN_TELEMETRY__HTTP__PORT: String(port), CLIPN_TELEMETRY__HTTP__HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServeProcess(child, port);
  }

  private feed(text: string): void {
    this.tail += text;
    const lines = this.tail.split('\n');
    this.tail = lines.pop() ?? '';
    for (const raw of lines) {
      let line: LogLine;
      try {
        line = JSON.parse(raw) as LogLine;
      } catch {
        line = { msg: raw };
      }
      this.logs.push(line);
      for (const l of this.listeners) l(line);
    }
  }

  /** Resolves with the first log line (already seen or coming) that `match` accepts. */
  waitForLog(what: string, match: (l: LogLine) => boolean, timeoutMs: number, from = 0): Promise<LogLine> {
    const seen = this.logs.slice(from).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last log lines: ${this.recentLog()}`));
      }, timeoutMs);
      const listener = (l: LogLine): void => {
        if (!match(l)) return;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((x) => x !== listener);
        resolve(l);
      };
      this.listeners.push(listener);
    });
  }

  recentLog(n = 5): string {
    return this.logs.slice(-n).map((l) => JSON.stringify(l).slice(0, 300)).join(' | ');
  }

  async get(path: string): Promise<{ status: number; text: string }> {
    const res = await fetch(`http://127.0.0.1:${this.port}${path}`);
    return { status: res.status, text: await res.text() };
  }

  async metrics(): Promise<Sample[]> {
    return parseProm((await this.get('/metrics')).text);
  }

  /** Waits until /readyz answers 200; fails at once if the process exits. */
  async ready(timeoutMs: number): Promise<number> {
    const t0 = performance.now();
    const deadline = Date.now() + timeoutMs;
    let exitCode: number | null | undefined;
    void this.exited.then((c) => (exitCode = c));
    for (;;) {
      if (exitCode !== undefined) throw new Error(`clipn serve exited with ${exitCode} before it was ready: ${this.recentLog(8)}`);
      const ok = await this.get('/readyz').then((r) => r.status === 200, () => false);
      if (ok) return (performance.now() - t0) / 1000;
      if (Date.now() > deadline) throw new Error(`clipn serve not ready after ${timeoutMs} ms: ${this.recentLog(8)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** Current and peak resident memory in MiB (VmRSS, VmHWM from /proc). */
  memory(): { rssMiB: number; peakMiB: number } {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMiB: kb('VmRSS') / 1024, peakMiB: kb('VmHWM') / 1024 };
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 40_000);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Per-stage sums and counts of the clipn_stage_duration histogram. */
export function stageTotals(samples: readonly Sample[]): Map<string, { sum: number; count: number }> {
  const out = new Map<string, { sum: number; count: number }>();
  for (const s of samples) {
    const stage = s.labels.stage;
    if (!stage || !s.name.startsWith('clipn_stage_duration')) continue;
    const e = out.get(stage) ?? { sum: 0, count: 0 };
    if (s.name.endsWith('_sum')) e.sum += s.value;
    else if (s.name.endsWith('_count')) e.count += s.value;
    out.set(stage, e);
  }
  return out;
}

/** Cumulative bucket counts of the clipn_event_loop_delay histogram, by upper bound in ms (Infinity for +Inf). */
export function eventLoopBuckets(samples: readonly Sample[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== 'clipn_event_loop_delay_bucket' || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    out.set(le, (out.get(le) ?? 0) + s.value);
  }
  return out;
}

/** The event loop between two scrapes: ticks recorded, the bucket bound every tick stayed within, and ticks later than 100 ms. */
export interface EventLoopSpan {
  ticks: number;
  /** Infinity when some tick was later than the largest bucket. */
  atMostMs: number;
  over100Ms: number;
}

export function eventLoopSpan(before: Map<number, number>, after: Map<number, number>): EventLoopSpan {
  if (after.size > 0 && !after.has(100)) throw new Error(`clipn_event_loop_delay: expected a bucket at 100 ms, got ${[...after.keys()].join(', ')}`);
  const delta = (le: number): number => (after.get(le) ?? 0) - (before.get(le) ?? 0);
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const ticks = delta(Infinity);
  return { ticks, atMostMs: bounds.find((le) => delta(le) === ticks) ?? Infinity, over100Ms: ticks - delta(100) };
}
