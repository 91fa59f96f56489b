/** Reading the PyTorch golden fixtures (test/fixtures/golden) and comparing tensors with them. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const GOLDEN = join(import.meta.dirname, '..', 'fixtures', 'golden');

/** A float32 little-endian tensor file of the goldens (copied: Buffers may be unaligned). */
export function readGoldenF32(file: string): Float32Array {
  const b = readFileSync(join(GOLDEN, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

/** Largest absolute difference, relative to the reference's largest magnitude (at least 1). */
export function relErr(got: Float32Array, want: Float32Array): number {
  assert.equal(got.length, want.length);
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < got.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

/** Largest and mean absolute difference of two tensors of the same length. */
export function absDiff(got: Float32Array, want: Float32Array): { max: number; mean: number } {
  let max = 0;
  let total = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    max = Math.max(max, d);
    total += d;
  }
  return { max, mean: total / want.length };
}
