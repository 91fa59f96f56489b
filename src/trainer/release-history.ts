/**
 * Every release the trainer made, kept on disk: the release topic is compacted and keeps only
 * the latest per model, but listing and rolling back need them all. One folder per release
 * (its version, URI-encoded) with release.json (the record, prompt bytes in base64), prompt.bin,
 * prompt-set.bin, result.json and, for no-tower releases, text_no.onnx and no_tower.pt. A folder
 * is written under a temporary name and renamed, so a crash never leaves half a release. Folders
 * of earlier versions, with prompts.bin for prompt-set.bin, are upgraded in place when read.
 */
import { randomBytes } from 'node:crypto';
import { access, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ModelRelease } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import { PROMPT_SET_FILE } from './kernel-runner.js';

/** A release read back from the history. */
export interface StoredRelease {
  readonly record: ModelRelease;
  /** Its folder. */
  readonly dir: string;
  /** Absolute path of each file kept with it. */
  readonly files: Readonly<Record<string, string>>;
}

/**
 * The history folder from trainer.artifactStore (a path, relative to `root`, or a file:// URI),
 * else <samplesDir>/releases.
 * @throws ClipnError CONFIG_INVALID for another URI scheme.
 */
export function historyDir(artifactStore: string | null, samplesDir: string, root: string): string {
  if (artifactStore === null) return resolve(root, samplesDir, 'releases');
  if (artifactStore.startsWith('file://')) return fileURLToPath(artifactStore);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(artifactStore)) {
    throw new ClipnError('CONFIG_INVALID', `trainer.artifactStore: expected a folder path or a file:// URI, got ${artifactStore}`, { details: { field: 'trainer.artifactStore' } });
  }
  return isAbsolute(artifactStore) ? artifactStore : resolve(root, artifactStore);
}

/** A ModelRelease as JSON (bytes in base64). */
export function releaseToJson(r: ModelRelease): Record<string, unknown> {
  return { ...r, prompt: r.prompt === null ? null : { ...r.prompt, data: r.prompt.data.toString('base64') } };
}

/** The inverse of {@link releaseToJson}. */
export function releaseFromJson(v: unknown, where: string): ModelRelease {
  const o = v as Record<string, unknown> | null;
  if (o === null || typeof o !== 'object' || typeof o.version !== 'string' || typeof o.model !== 'string' || (o.kind !== 'prompt' && o.kind !== 'no_tower')) {
    throw new ClipnError('TRAINER_STORE_CORRUPT', `${where}: expected a ModelRelease with model, version and kind, got ${JSON.stringify(v)?.slice(0, 120)}`);
  }
  const p = o.prompt as (Record<string, unknown> & { data: string }) | null;
  return { ...(o as unknown as ModelRelease), prompt: p === null ? null : ({ ...p, data: Buffer.from(p.data, 'base64') } as ModelRelease['prompt']) };
}

/** The release folder of the trainer. */
export class ReleaseHistory {
  constructor(readonly dir: string) {}

  /** The folder a version is (or will be) kept in. */
  folderOf(version: string): string {
    return join(this.dir, encodeURIComponent(version));
  }

  /** file:// URI of a file kept with a version (what a no-tower release's artifact names). */
  uriOf(version: string, file: string): string {
    return pathToFileURL(join(this.folderOf(version), file)).href;
  }

  /** Keeps a release with its files (copied); fails if the version is already kept. */
  async save(record: ModelRelease, files: Readonly<Record<string, string>>): Promise<StoredRelease> {
    await mkdir(this.dir, { recursive: true });
    const final = this.folderOf(record.version);
    const tmp = `${final}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    const kept: Record<string, string> = {};
    for (const [name, path] of Object.entries(files)) {
      await copyFile(path, join(tmp, name));
      kept[name] = join(final, name);
    }
    await writeFile(join(tmp, 'release.json'), JSON.stringify(releaseToJson(record), null, 2) + '\n');
    try {
      await rename(tmp, final);
    } catch (error) {
      await rm(tmp, { recursive: true, force: true });
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new ClipnError('INTERNAL', `release history: version ${record.version} is already kept in ${final}`, { cause: error });
      throw error;
    }
    return { record, dir: final, files: kept };
  }

  /** Every kept release, oldest first (by createdAt, then version). Unfinished folders are skipped. */
  async list(): Promise<StoredRelease[]> {
    const names = await readdir(this.dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
    const out: StoredRelease[] = [];
    for (const name of names) {
      if (name.includes('.tmp-')) continue;
      const r = await this.read(join(this.dir, name));
      if (r !== null) out.push(r);
    }
    return out.sort((a, b) => a.record.createdAt - b.record.createdAt || a.record.version.localeCompare(b.record.version));
  }

  /** The kept release of `version`, or null. */
  async get(version: string): Promise<StoredRelease | null> {
    return this.read(this.folderOf(version));
  }

  private async read(dir: string): Promise<StoredRelease | null> {
    const text = await readFile(join(dir, 'release.json'), 'utf8').catch(() => null);
    if (text === null) return null;
    const record = releaseFromJson(JSON.parse(text), join(dir, 'release.json'));
    // A reader that may not write there (`clipn models list` on a read-only mount) still lists the
    // records; the trainer, which writes to the history, upgrades the folder on its first read.
    await upgradePromptsBin(dir).catch((e: NodeJS.ErrnoException) => (READ_ONLY.has(e.code ?? '') ? undefined : Promise.reject(e)));
    const files: Record<string, string> = {};
    for (const name of await readdir(dir)) if (name !== 'release.json' && !name.includes('.tmp-')) files[name] = join(dir, name);
    return { record, dir, files };
  }
}

/** The name prompt-set.bin had in release folders written before it was renamed. */
const OLD_PROMPT_SET_FILE = 'prompts.bin';
/** result.json's record of the kernel's --init-prompt-set argument, before it was renamed. */
const OLD_INIT_ARG = 'init-prompts';
const NEW_INIT_ARG = 'init-prompt-set';
/** Error codes of a history the reader may not change. */
const READ_ONLY = new Set(['EACCES', 'EPERM', 'EROFS']);

/**
 * Upgrades a release folder of the old layout, where the kernel's learnable prompt set was kept
 * as `prompts.bin` (one letter from the release's `prompt.bin`), to the current one with
 * `prompt-set.bin`: result.json's file listing (and its record of the `init-prompts` argument,
 * now `init-prompt-set`) is rewritten through a temporary file and a rename, then the file itself
 * is renamed. Each step is atomic and checked on its own, so a crash between them is finished by
 * the next read, and a folder already in the current layout is left untouched. Nothing is done
 * where both names exist (not a layout this code ever wrote): no file is overwritten.
 */
async function upgradePromptsBin(dir: string): Promise<void> {
  const oldFile = join(dir, OLD_PROMPT_SET_FILE);
  const newFile = join(dir, PROMPT_SET_FILE);
  const [hasOld, hasNew] = await Promise.all([exists(oldFile), exists(newFile)]);
  const resultPath = join(dir, 'result.json');
  const text = await readFile(resultPath, 'utf8').catch(() => null);
  let result: Record<string, unknown> | null = null;
  try {
    result = text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    // An unreadable result.json is not this function's to repair; the file is still renamed.
  }
  const files = result?.files as Record<string, unknown> | undefined;
  const args = result?.args as Record<string, unknown> | undefined;
  const listsOld = isRecord(files) && OLD_PROMPT_SET_FILE in files && !(PROMPT_SET_FILE in files);
  const argsOld = isRecord(args) && OLD_INIT_ARG in args && !(NEW_INIT_ARG in args);
  if (hasOld && hasNew) return;
  if (result !== null && (listsOld || argsOld)) {
    const upgraded = {
      ...result,
      ...(listsOld ? { files: renameKey(files, OLD_PROMPT_SET_FILE, PROMPT_SET_FILE) } : {}),
      ...(argsOld ? { args: renameKey(args, OLD_INIT_ARG, NEW_INIT_ARG) } : {}),
    };
    // Unique per writer: two readers of a shared history (pid 1 in two containers) never share it.
    const tmp = `${resultPath}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      await writeFile(tmp, JSON.stringify(upgraded, null, 2) + '\n');
      await rename(tmp, resultPath);
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }
  if (hasOld) {
    // ENOENT: another process reading the same history renamed it first.
    await rename(oldFile, newFile).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `o` with key `from` renamed to `to`, in the same place among its keys. */
function renameKey(o: Record<string, unknown>, from: string, to: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k === from ? to : k, v]));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * The next version for `baseModelVersion`: `<base>/p<n>` with n one more than any n among the
 * known versions of that base (the bundle's own prompt is p0), so versions only grow.
 */
export function nextVersion(baseModelVersion: string, known: Iterable<string>): string {
  let max = 0;
  const prefix = `${baseModelVersion}/p`;
  for (const v of known) {
    if (!v.startsWith(prefix)) continue;
    const n = Number(v.slice(prefix.length));
    if (Number.isInteger(n) && n > max) max = n;
  }
  return `${prefix}${max + 1}`;
}
