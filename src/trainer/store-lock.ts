/**
 * The sample store's folder lock: one trainer process per folder. The lock file names its owner
 * (pid and a per-process token) and is touched while the owner runs.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipnError } from '../errors.js';

// Tells this process's lock from an earlier process that had the same pid (PID 1 in a container).
const LOCK_TOKEN = randomUUID();
/** The owner touches its lock this often; one untouched for LOCK_STALE_MS has no owner. */
const LOCK_REFRESH_MS = 10_000;
export const LOCK_STALE_MS = 30_000;

/**
 * Takes the folder's lock, or fails when another owner holds it. The lock is stale when its
 * process is gone (a pid other than ours that is not running) or when nobody touched it for
 * LOCK_STALE_MS: a lock naming our own pid is another process's (a restarted container, another
 * container on the volume) and only its age tells whether that process is gone.
 * @returns a timer that keeps the lock fresh (cleared on close).
 */
export async function takeLock(dir: string): Promise<NodeJS.Timeout> {
  const path = join(dir, 'lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(path, `${process.pid} ${LOCK_TOKEN}`, { flag: 'wx' });
      const timer = setInterval(() => void utimes(path, new Date(), new Date()).catch(() => undefined), LOCK_REFRESH_MS);
      timer.unref();
      return timer;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const [pidText = '', token = null] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
      const owner = Number(pidText);
      const age = Date.now() - ((await stat(path).catch(() => null))?.mtimeMs ?? 0);
      const gone = Number.isInteger(owner) && owner > 0 && owner !== process.pid && !alive(owner);
      if (token === LOCK_TOKEN || (!gone && age < LOCK_STALE_MS)) {
        throw new ClipnError('CONFIG_INVALID', `trainer.samplesDir ${dir}: expected a folder no other trainer uses, got one locked by process ${owner}${token === LOCK_TOKEN ? ' (this one)' : ''} (a lock untouched for ${LOCK_STALE_MS / 1000} s is taken over)`, { details: { dir, owner } });
      }
      await rm(path, { force: true });
    }
  }
  throw new ClipnError('CONFIG_INVALID', `trainer.samplesDir ${dir}: could not take its lock`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
