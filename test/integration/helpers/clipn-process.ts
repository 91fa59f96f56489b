/** `clipn` child processes of the integration tests, and the pino log lines they print. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './sidecar.js';

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
