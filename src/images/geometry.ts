/** The reference geometry (docs/bundle-format.md): pure arithmetic, shared by the decoder and its tests. */

/** Python's round (half to even), which the reference crop offsets use. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds halves up; Python rounds them to the even neighbour.
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Where a w x h image goes: its resized size and the offsets of the S x S centre crop. */
export interface ResizePlan {
  width: number;
  height: number;
  left: number;
  top: number;
}

/** Shortest side to `size`, long side floor(size * long / short) as the reference; centre-crop offsets. */
export function resizePlan(width: number, height: number, size: number): ResizePlan {
  const [w, h] = width <= height ? [size, Math.floor((size * height) / width)] : [Math.floor((size * width) / height), size];
  return { width: w, height: h, left: roundHalfEven((w - size) / 2), top: roundHalfEven((h - size) / 2) };
}
