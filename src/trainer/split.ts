/**
 * Deterministic choices by item id: the held-out split. A keyed hash, not a random draw, so every
 * restart and test puts one item on the same side; the key (a secret salt) keeps whoever picks
 * item ids from steering an item into training or into the held-out set the gate measures.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Split } from './types.js';

/** A number in [0, 1) from sha256(salt + ":" + id); different salts give independent choices. */
export function hashUnit(salt: string, id: string): number {
  const digest = createHash('sha256').update(`${salt}:${id}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** The split of an item: held out when its keyed hash falls below `heldOutShare`. */
export function splitOf(id: string, heldOutShare: number, salt: string): Split {
  return hashUnit(salt, id) < heldOutShare ? 'heldout' : 'train';
}

const SALT_FILE = 'split-salt';

/**
 * The split salt: `configured` when set; else the one kept in `dir`, made (random, 256 bits) and
 * written there the first time, so splits stay the same across restarts.
 */
export async function splitSalt(dir: string, configured: string | null): Promise<string> {
  if (configured !== null) return configured;
  const path = join(dir, SALT_FILE);
  const kept = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
  if (kept !== null && kept.trim().length > 0) return kept.trim();
  const salt = randomBytes(32).toString('hex');
  await writeFile(`${path}.tmp`, salt, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return salt;
}
