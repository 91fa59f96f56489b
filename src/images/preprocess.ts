/**
 * CLIP preprocessing with sharp, for untrusted bytes (docs/bundle-format.md): EXIF orientation,
 * alpha over white, any colour space or depth to 8-bit sRGB, shortest side to S (bicubic),
 * centre crop, normalise, CHW float32. libvips decodes on libuv threads, never the main one.
 */
import sharp from 'sharp';
import { ClipnError, isClipnError } from '../errors.js';
import type { ImageOptions, PreprocessSpec } from './options.js';

// Raster formats only: SVG and PDF can reference external resources and run a renderer.
const ALLOWED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

/** A preprocessed image. */
export interface Preprocessed {
  /** [3*S*S] CHW float32, normalised. */
  tensor: Float32Array;
  /** Size after EXIF orientation, before resizing. */
  width: number;
  height: number;
  format: string;
}

/** Python's round (half to even), which the reference crop offsets use. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Resize target and crop offsets for a w x h image (floor of the long side, as the reference). */
export function resizePlan(width: number, height: number, size: number): { width: number; height: number; left: number; top: number } {
  const [w, h] = width <= height ? [size, Math.floor((size * height) / width)] : [Math.floor((size * width) / height), size];
  return { width: w, height: h, left: roundHalfEven((w - size) / 2), top: roundHalfEven((h - size) / 2) };
}

function decodeError(error: unknown, bytes: number): ClipnError {
  if (isClipnError(error)) return error;
  const message = (error as Error).message ?? String(error);
  if (/pixel limit|exceeds pixel/i.test(message)) return new ClipnError('IMAGE_TOO_MANY_PIXELS', message, { cause: error });
  if (/unsupported image format|bad seek|Input buffer contains unsupported/i.test(message)) {
    return new ClipnError('IMAGE_UNSUPPORTED_FORMAT', `not a supported image (${bytes} bytes): ${message}`, { cause: error });
  }
  if (/premature end|truncated|unexpected end|end of (file|stream)|Corrupt|not enough data|read error/i.test(message)) {
    return new ClipnError('IMAGE_TRUNCATED', `image data is truncated or corrupt: ${message}`, { cause: error });
  }
  return new ClipnError('IMAGE_DECODE_FAILED', `cannot decode the image (${bytes} bytes; corrupt or unreadable data): ${message}`, { cause: error });
}

/** Decodes and preprocesses one image. Every failure is a coded ClipnError. */
export async function preprocess(bytes: Uint8Array, spec: PreprocessSpec, options: Pick<ImageOptions, 'maxBytes' | 'maxPixels'>): Promise<Preprocessed> {
  if (bytes.byteLength === 0) throw new ClipnError('IMAGE_EMPTY', 'image is empty (0 bytes)');
  if (bytes.byteLength > options.maxBytes) {
    throw new ClipnError('IMAGE_TOO_MANY_BYTES', `image has ${bytes.byteLength} bytes, the limit is ${options.maxBytes}`, {
      details: { limit: options.maxBytes, got: bytes.byteLength },
    });
  }
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    // The header first: refuse bombs and unsupported formats before any pixel is decoded.
    const meta = await sharp(input, { limitInputPixels: false }).metadata();
    const format = meta.format ?? 'unknown';
    if (!ALLOWED_FORMATS.has(format)) {
      throw new ClipnError('IMAGE_UNSUPPORTED_FORMAT', `image format ${format} is not accepted (expected one of ${[...ALLOWED_FORMATS].join(', ')})`);
    }
    const pixels = (meta.width ?? 0) * (meta.height ?? 0);
    if (pixels > options.maxPixels) {
      throw new ClipnError('IMAGE_TOO_MANY_PIXELS', `image is ${meta.width}x${meta.height} = ${pixels} pixels, the limit is ${options.maxPixels}`, {
        details: { limit: options.maxPixels, got: pixels, width: meta.width, height: meta.height },
      });
    }
    const swap = (meta.orientation ?? 1) >= 5;
    const width = swap ? meta.height! : meta.width!;
    const height = swap ? meta.width! : meta.height!;
    const size = spec.imageSize;
    const plan = resizePlan(width, height, size);
    const { data, info } = await sharp(input, { failOn: 'truncated', limitInputPixels: options.maxPixels, autoOrient: true, animated: false })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .resize(plan.width, plan.height, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
      .extract({ left: plan.left, top: plan.top, width: size, height: size })
      .removeAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== size * size * 3) {
      throw new ClipnError('IMAGE_DECODE_FAILED', `decoded ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
    }
    return { tensor: toChw(data, size, spec), width, height, format };
  } catch (error) {
    throw decodeError(error, bytes.byteLength);
  }
}

function toChw(hwc: Uint8Array, size: number, spec: PreprocessSpec): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * spec.std[c]!);
    const shift = spec.mean[c]! / spec.std[c]!;
    for (let i = 0; i < plane; i++) out[c * plane + i] = hwc[i * 3 + c]! * scale - shift;
  }
  return out;
}
