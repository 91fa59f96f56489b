/** Runs a bench Python script with the training venv; its last stdout line is JSON. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const ROOT = join(import.meta.dirname, '..');
export const PYTHON = process.env.CLIPN_BENCH_PYTHON ?? join(ROOT, 'training', '.venv', 'bin', 'python');

/** Runs `python args...` from the repository root (stderr passed through); resolves its last stdout line parsed as JSON. */
export function runPython<T>(args: readonly string[], env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [...args], {
      cwd: ROOT,
      env: { ...process.env, PYTHONPATH: join(ROOT, 'training'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      process.stderr.write(d);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${PYTHON} ${args.join(' ')} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`));
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${args[0]}: expected JSON on the last stdout line, got ${JSON.stringify(last.slice(0, 200))}`));
      }
    });
  });
}

/** Runs a Python command for its effect (e.g. an export), passing its output through. */
export function runPythonPlain(args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [...args], { cwd: ROOT, env: { ...process.env, PYTHONPATH: join(ROOT, 'training') }, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${PYTHON} ${args.join(' ')} exited ${code}`))));
  });
}

/** A Python process answering one JSON line per command line (bench/torch-encoder.py). */
export interface PythonPeer<R> {
  /** Its first line (sent when it is ready). */
  readonly ready: R;
  call<T>(command: string): Promise<T>;
  /** Sends `quit` and waits for the exit. */
  close(): Promise<void>;
}

/** Starts `python args...` from the repository root (stderr passed through) and waits for its first JSON line. */
export async function startPythonPeer<R>(args: readonly string[]): Promise<PythonPeer<R>> {
  const child = spawn(PYTHON, [...args], { cwd: ROOT, env: { ...process.env, PYTHONPATH: join(ROOT, 'training') }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const next = async <T>(what: string): Promise<T> => {
    const line = await Promise.race([lines.next(), exited.then((code) => ({ done: true as const, value: `exit ${code}` }))]);
    if (line.done) throw new Error(`${args[0]}: exited before answering ${what}`);
    try {
      return JSON.parse(line.value) as T;
    } catch {
      throw new Error(`${args[0]}: expected a JSON line for ${what}, got ${JSON.stringify(line.value.slice(0, 200))}`);
    }
  };
  const ready = await next<R>('start-up');
  return {
    ready,
    call: (command) => {
      child.stdin.write(`${command}\n`);
      return next(command);
    },
    close: async () => {
      child.stdin.end('quit\n');
      const code = await exited;
      if (code !== 0) throw new Error(`${args[0]}: exited ${code}`);
    },
  };
}
