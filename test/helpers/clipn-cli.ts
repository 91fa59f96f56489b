/** Runs `node bin/clipn.js ...` as a user would and returns its exit code and output. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = join(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** `env` is laid over this process's environment; a run past `timeoutMs` is killed and fails. */
export async function clipn(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin', 'clipn.js'), ...args], { cwd: ROOT, env: { ...process.env, ...env }, maxBuffer: 1 << 24, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Mann-Whitney AUROC (ID positive, ties half), written out independently of src/clipn/metrics.ts. */
export function mannWhitney(id: readonly number[], ood: readonly number[]): number {
  let wins = 0;
  for (const a of id) for (const b of ood) wins += a > b ? 1 : a === b ? 0.5 : 0;
  return wins / (id.length * ood.length);
}
