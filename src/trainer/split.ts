/**
 * Deterministic choices by item id: the held-out split. A hash, not a random draw, so every
 * restart, replica and test puts one item on the same side.
 */
import { createHash } from 'node:crypto';
import type { Split } from './types.js';

/** A number in [0, 1) from sha256(salt + ":" + id); different salts give independent choices. */
export function hashUnit(salt: string, id: string): number {
  const digest = createHash('sha256').update(`${salt}:${id}`).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/** The split of an item: held out when its hash falls below `heldOutShare`. */
export function splitOf(id: string, heldOutShare: number): Split {
  return hashUnit('clipn-split', id) < heldOutShare ? 'heldout' : 'train';
}
