/** `clipn` child processes of the integration tests, and the pino log lines they print. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../helpers/clipn-cli.js';
import { until } from './wait-for-messages.js';

/** A `clipn` child process with its output (stdout and stderr) kept. */
export interface ClipnProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns `clipn args...` from the repository root with `env` over this process's environment. */
export function spawnClipn(args: string[], env: Record<string, string>): ClipnProcess {
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

/** A point in a process's life: the first time `seen` holds for its output. */
export interface SignalMoment {
  moment: string;
  seen: (output: string) => boolean;
}

/** Starts a fresh process for each moment, sends it SIGTERM there and waits for its exit. */
export async function sigtermAt(start: () => ClipnProcess, moments: readonly SignalMoment[], timeoutMs = 90_000): Promise<Array<{ moment: string; code: number | null; output: string }>> {
  const out = [];
  for (const { moment, seen } of moments) {
    const p = start();
    await until(moment, () => seen(p.output()) || p.child.exitCode !== null, timeoutMs, 2);
    p.child.kill('SIGTERM');
    out.push({ moment, code: await p.exited, output: p.output() });
  }
  return out;
}

const logged = (msg: string, field = ''): ((out: string) => boolean) => (out) => out.split('\n').some((l) => l.includes(`"msg":"${msg}"`) && l.includes(field));

/**
 * Moments across the model load, each marked by its log line: bundle verification on the main
 * thread, then each graph's session created in the inference worker, one after another.
 */
export const DURING_MODEL_LOAD: readonly SignalMoment[] = [
  { moment: 'the bundle verification', seen: logged('loading the model') },
  { moment: 'the image graph\'s session creation', seen: logged('model bundle verified') },
  { moment: 'the text graph\'s session creation', seen: logged('graph loaded', '"file":"image.onnx"') },
  { moment: 'the no-text graph\'s session creation', seen: logged('graph loaded', '"file":"text.onnx"') },
];
