/** Fixed pseudo-random inputs for the benches: the same values every run. */

/** `count` values in the range normalised pixels take, from a fixed LCG: the same inputs every run. */
function randomFloats(count: number, seed = 1): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32) * 4 - 2;
  }
  return out;
}

export const randomPixels = (n: number, size: number, seed = 1): Float32Array => randomFloats(n * 3 * size * size, seed);
