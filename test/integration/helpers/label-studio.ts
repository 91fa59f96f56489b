/**
 * A real Label Studio for integration tests, run by scripts/label-studio.sh on its own port and
 * data folder (default 127.0.0.1:8090, .cache/label-studio-test; the first start migrates the
 * database, later ones take seconds), and a plain HTTP client for reading it back and
 * annotating as a reviewer would (not the plugin's client: the tests check the plugin from outside).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../helpers/clipn-cli.js';

export const LABEL_STUDIO_PORT = Number(process.env.CLIPN_TEST_LABEL_STUDIO_PORT ?? 8090);
export const LABEL_STUDIO_URL = `http://127.0.0.1:${LABEL_STUDIO_PORT}`;
const DATA = process.env.CLIPN_TEST_LABEL_STUDIO_DATA_DIR ?? join(ROOT, '.cache', 'label-studio-test');

const scriptEnv = (): NodeJS.ProcessEnv => ({
  ...process.env,
  CLIPN_LABEL_STUDIO_PORT: String(LABEL_STUDIO_PORT),
  CLIPN_LABEL_STUDIO_DATA_DIR: DATA,
  CLIPN_LABEL_STUDIO_START_TIMEOUT: process.env.CLIPN_LABEL_STUDIO_START_TIMEOUT ?? '300',
});

/** Runs `scripts/label-studio.sh <command>`; resolves with its exit code and output (killed after `timeoutMs`). */
export function labelStudioScript(command: 'fetch' | 'start' | 'stop' | 'status', timeoutMs: number): Promise<{ code: number | null; output: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [join(ROOT, 'scripts', 'label-studio.sh'), command], { cwd: ROOT, env: scriptEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

/** Starts Label Studio unless it runs already; resolves with the legacy token and whether this call started it. */
export async function startLabelStudio(timeoutMs = 360_000): Promise<{ token: string; startedHere: boolean; ms: number }> {
  const status = await labelStudioScript('status', 10_000);
  const startedHere = status.code !== 0;
  const run = await labelStudioScript('start', timeoutMs);
  if (run.code !== 0) throw new Error(`scripts/label-studio.sh start failed (exit ${run.code}; run npm run setup, or scripts/label-studio.sh fetch, first):\n${run.output.slice(-3000)}`);
  process.stdout.write(`# ${run.output.trim().split('\n').at(-1)}\n`);
  return { token: readFileSync(join(DATA, 'token'), 'utf8').trim(), startedHere, ms: run.ms };
}

export async function stopLabelStudio(): Promise<number> {
  const run = await labelStudioScript('stop', 60_000);
  if (run.code !== 0) throw new Error(`scripts/label-studio.sh stop failed:\n${run.output}`);
  return run.ms;
}

/** One call to Label Studio's API with `Authorization: <scheme> <token>`; rejects on a non-2xx answer. */
export async function lsApi<T = any>(auth: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(LABEL_STUDIO_URL + path, {
    method,
    headers: { authorization: auth, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : null) as T;
}

/** A project by its exact title, or null. */
export async function projectByTitle(auth: string, title: string): Promise<{ id: number; title: string; label_config: string } | null> {
  const page = await lsApi<{ results: Array<{ id: number; title: string; label_config: string }> }>(auth, 'GET', `/api/projects?title=${encodeURIComponent(title)}&page_size=100`);
  const all = page.results.filter((p) => p.title === title);
  if (all.length > 1) throw new Error(`expected one project titled ${title}, found ${all.length}`);
  return all[0] ?? null;
}

/** Every task of a project with its predictions and annotations. */
export async function allTasks(auth: string, projectId: number): Promise<Array<{ id: number; data: Record<string, any>; predictions: any[]; annotations: any[] }>> {
  const out: any[] = [];
  for (let page = 1; ; page++) {
    const answer = await lsApi<{ tasks: any[]; total: number }>(auth, 'GET', `/api/tasks?project=${projectId}&fields=all&page=${page}&page_size=100`);
    out.push(...answer.tasks);
    if (out.length >= answer.total || answer.tasks.length === 0) return out;
  }
}

/**
 * A personal access token (JWT refresh token) of the test user: created with the legacy token the
 * first time, then rotated (a user has one at a time) and kept in the data folder.
 */
export async function personalAccessToken(legacyToken: string): Promise<string> {
  const file = join(DATA, 'personal-access-token');
  const auth = `Token ${legacyToken}`;
  let pat: string;
  try {
    pat = (await lsApi<{ token: string }>(auth, 'POST', '/api/token/')).token;
  } catch (error) {
    let old: string;
    try {
      old = readFileSync(file, 'utf8').trim();
    } catch {
      throw new Error(`the test user has a personal access token this test did not keep (${file}); run scripts/label-studio.sh reset with the test data folder`, { cause: error });
    }
    pat = (await lsApi<{ refresh: string }>(auth, 'POST', '/api/token/rotate/', { refresh: old })).refresh;
  }
  writeFileSync(file, pat, { mode: 0o600 });
  return pat;
}
