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

/** A rectangle of the (oriented) source image. */
export interface Region {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * The part of a w x h source that the centre crop of `plan` reads when upscaling, with a margin
 * for the bicubic filter (two source pixels either side, plus one for rounding): an elongated
 * strip upscaled whole would be far larger than the crop.
 */
export function cropSupport(width: number, height: number, plan: ResizePlan, size: number): Region {
  const along = (length: number, resized: number, offset: number): [number, number] => {
    const scale = resized / length;
    // Output pixel x samples source x_in = (x + 0.5) / scale - 0.5 (PIL's pixel centres).
    const first = Math.max(0, Math.floor((offset + 0.5) / scale - 0.5) - 3);
    const last = Math.min(length, Math.ceil((offset + size - 0.5) / scale - 0.5) + 4);
    return [first, last - first];
  };
  const [left, w] = along(width, plan.width, plan.left);
  const [top, h] = along(height, plan.height, plan.top);
  return { left, top, width: w, height: h };
}
