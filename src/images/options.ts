/** Options of the image layer: limits for untrusted input, decoding parallelism, fetching. */
import { ClipnError } from '../errors.js';

export interface FetchOptions {
  timeoutMs: number;
  maxBytes: number;
  /** Allow loopback, link-local and private addresses (off: a URL must not reach internal services). */
  allowPrivateNetworks: boolean;
  allowedSchemes: readonly ('http' | 'https')[];
  maxRedirects: number;
}

export interface ImageOptions {
  /** Largest encoded image accepted, in bytes. */
  maxBytes: number;
  /** Largest decoded image, in pixels (the decompression-bomb guard). */
  maxPixels: number;
  /** Images decoded at the same time (each on a libuv thread through sharp). */
  decodeConcurrency: number;
  fetch: FetchOptions;
  /** file:// URIs are allowed only under this folder; null refuses them. */
  fileRoot: string | null;
}

export const DEFAULT_IMAGE_OPTIONS: Readonly<ImageOptions> = Object.freeze({
  maxBytes: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  decodeConcurrency: 4,
  fetch: Object.freeze({ timeoutMs: 5000, maxBytes: 20 * 1024 * 1024, allowPrivateNetworks: false, allowedSchemes: ['https', 'http'] as const, maxRedirects: 3 }),
  fileRoot: null,
});

/** The bundle's preprocessing constants. */
export interface PreprocessSpec {
  imageSize: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

function positiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new ClipnError('CONFIG_INVALID', `${name}: expected an integer >= 1, got ${value}`);
}

/** Checks options once, at start-up. */
export function checkImageOptions(o: ImageOptions): ImageOptions {
  positiveInt('images.maxBytes', o.maxBytes);
  positiveInt('images.maxPixels', o.maxPixels);
  positiveInt('images.decodeConcurrency', o.decodeConcurrency);
  positiveInt('images.fetch.timeoutMs', o.fetch.timeoutMs);
  positiveInt('images.fetch.maxBytes', o.fetch.maxBytes);
  return o;
}
