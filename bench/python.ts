/** Runs a bench Python script with the training venv; its last stdout line is JSON. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

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
