/** `clipn` child processes of the integration tests, and the pino log lines they print. */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import { ROOT } from './sidecar.js';
import { until } from './wait-for-messages.js';

/** A `clipn` child process with its output kept. */
export function spawnClipn(args: string[], env: Record<string, string>) {
  let output = '';
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'clipn.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Log lines (pino JSON) of a child's output with this message. */
export function logLines(output: string, msg: string): Array<Record<string, any>> {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((l) => l.msg === msg);
}

/** A point in a process's life: once `seen` holds for its output, then `afterMs` more. */
export interface SignalMoment {
  moment: string;
  seen: (output: string) => boolean;
  afterMs: number;
}

/** Starts a fresh process for each moment, sends it SIGTERM there and waits for its exit. */
export async function sigtermAt(start: () => { child: ChildProcess; output: () => string; exited: Promise<number | null> }, moments: readonly SignalMoment[], timeoutMs = 90_000): Promise<Array<{ moment: string; code: number | null; output: string }>> {
  const out = [];
  for (const { moment, seen, afterMs } of moments) {
    const p = start();
    await until(moment, () => seen(p.output()) || p.child.exitCode !== null, timeoutMs, 2);
    // The timer places the signal inside a phase (e.g. 60 ms into a model load); no assertion depends on it.
    await delay(afterMs);
    p.child.kill('SIGTERM');
    out.push({ moment, code: await p.exited, output: p.output() });
  }
  return out;
}

/** Moments spread over the model load, which starts with the 'loading the model' log line (the demo bundle loads in about 0.3 s). */
export const DURING_MODEL_LOAD: readonly SignalMoment[] = [0, 60, 120, 180, 240, 300].map((ms) => ({ moment: `${ms} ms into the model load`, seen: (out: string) => out.includes('loading the model'), afterMs: ms }));
