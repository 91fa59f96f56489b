/** Options of the image layer: limits for untrusted input, decoding parallelism, fetching. */
import { ClipnError } from '../errors.js';

/** An 8-bit sRGB colour. */
export interface Rgb {
  r: number;
  g: number;
  b: number;
}

/** How image URIs are fetched over http(s). */
export interface FetchOptions {
  /** Whole request (every redirect hop and the body) must finish within this time. */
  timeoutMs: number;
  /** Largest body accepted, counted while streaming (a missing or lying Content-Length does not help). */
  maxBytes: number;
  /** Allow loopback, link-local and private addresses (off: a URL must not reach internal services). */
  allowPrivateNetworks: boolean;
  allowedSchemes: readonly ('http' | 'https')[];
  /** Redirects followed, each hop checked again like the first URL. */
  maxRedirects: number;
}

/** Options of the image layer, validated once with {@link imageOptions} or {@link checkImageOptions}. */
export interface ImageOptions {
  /** Largest encoded image accepted, in bytes. */
  maxBytes: number;
  /** Largest decoded image, in pixels (the decompression-bomb guard); also bounds the resized image. */
  maxPixels: number;
  /** Colour that transparent pixels are composited over (default white, as the reference). */
  background?: Rgb;
  /** Images decoded at the same time (each on a libuv thread through sharp). */
  decodeConcurrency: number;
  /** Accept SVG input. Off by default: SVG is a document that can reference other resources. */
  allowSvg?: boolean;
  fetch: FetchOptions;
  /** file:// URIs are allowed only under this folder; null refuses them. */
  fileRoot: string | null;
  /** Long side / short side above which an image is elongated. */
  maxAspectRatio?: number;
  /**
   * An elongated image: `crop` cuts the centre square (plus a filter margin) before resizing,
   * so a thin strip never becomes a huge resized image; `refuse` rejects it.
   */
  elongated?: 'crop' | 'refuse';
}

const MiB = 1024 * 1024;

/** The defaults: 20 MiB, 40 megapixels, white background, 4 decodes, 5 s fetches, no file://, elongated past 10:1 cropped first. */
export const DEFAULT_IMAGE_OPTIONS: Readonly<Required<ImageOptions>> = Object.freeze({
  maxBytes: 20 * MiB,
  maxPixels: 40_000_000,
  background: Object.freeze({ r: 255, g: 255, b: 255 }),
  decodeConcurrency: 4,
  allowSvg: false,
  fetch: Object.freeze({ timeoutMs: 5000, maxBytes: 20 * MiB, allowPrivateNetworks: false, allowedSchemes: Object.freeze(['https', 'http'] as const), maxRedirects: 3 }),
  fileRoot: null,
  maxAspectRatio: 10,
  elongated: 'crop',
});

/** The bundle's preprocessing constants (manifest `preprocess`, docs/bundle-format.md). */
export interface PreprocessSpec {
  imageSize: number;
  mean: readonly [number, number, number] | readonly number[];
  std: readonly [number, number, number] | readonly number[];
}

/** Options given in part: anything left out takes its default. */
export type ImageOptionsInput = Partial<Omit<ImageOptions, 'fetch'>> & { fetch?: Partial<FetchOptions> };

function invalid(name: string, expected: string, got: unknown): ClipnError {
  const shown = typeof got === 'string' ? JSON.stringify(got) : Array.isArray(got) ? JSON.stringify(got) : String(got);
  return new ClipnError('CONFIG_INVALID', `${name}: expected ${expected}, got ${shown}`, { details: { field: name, got: shown } });
}

function int(name: string, value: unknown, min: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw invalid(name, `an integer >= ${min}`, value);
}

/** Checks a complete set of options once, at start-up; returns it unchanged. */
export function checkImageOptions<T extends ImageOptions>(o: T): T {
  int('images.maxBytes', o.maxBytes, 1);
  int('images.maxPixels', o.maxPixels, 1);
  int('images.decodeConcurrency', o.decodeConcurrency, 1);
  if (o.background !== undefined) {
    for (const c of ['r', 'g', 'b'] as const) {
      const v = o.background?.[c];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) throw invalid(`images.background.${c}`, 'an integer in 0..255', v);
    }
  }
  if (o.allowSvg !== undefined && typeof o.allowSvg !== 'boolean') throw invalid('images.allowSvg', 'a boolean', o.allowSvg);
  if (o.maxAspectRatio !== undefined && !(typeof o.maxAspectRatio === 'number' && o.maxAspectRatio >= 1)) throw invalid('images.maxAspectRatio', 'a number >= 1', o.maxAspectRatio);
  if (o.elongated !== undefined && o.elongated !== 'crop' && o.elongated !== 'refuse') throw invalid('images.elongated', '"crop" or "refuse"', o.elongated);
  const f = o.fetch;
  int('images.fetch.timeoutMs', f.timeoutMs, 1);
  int('images.fetch.maxBytes', f.maxBytes, 1);
  int('images.fetch.maxRedirects', f.maxRedirects, 0);
  if (typeof f.allowPrivateNetworks !== 'boolean') throw invalid('images.fetch.allowPrivateNetworks', 'a boolean', f.allowPrivateNetworks);
  if (!Array.isArray(f.allowedSchemes) || f.allowedSchemes.some((s) => s !== 'http' && s !== 'https')) {
    throw invalid('images.fetch.allowedSchemes', 'a list of "http" and "https"', f.allowedSchemes);
  }
  if (o.fileRoot !== null && (typeof o.fileRoot !== 'string' || !o.fileRoot.startsWith('/'))) {
    throw invalid('images.fileRoot', 'null or an absolute path', o.fileRoot);
  }
  return o;
}

/** Fills in defaults, validates, and freezes: the options object the image layer is given. */
export function imageOptions(input: ImageOptionsInput = {}): Readonly<Required<ImageOptions>> {
  const d = DEFAULT_IMAGE_OPTIONS;
  const merged: Required<ImageOptions> = {
    ...d,
    ...input,
    background: Object.freeze({ ...(input.background ?? d.background) }),
    fetch: Object.freeze({ ...d.fetch, ...input.fetch, allowedSchemes: Object.freeze([...(input.fetch?.allowedSchemes ?? d.fetch.allowedSchemes)]) }),
  };
  return Object.freeze(checkImageOptions(merged));
}

/** Checks the bundle's preprocessing block: a positive size and three finite means and positive stds. */
export function checkPreprocessSpec(spec: PreprocessSpec, where = 'manifest preprocess'): PreprocessSpec {
  int(`${where}.imageSize`, spec.imageSize, 1);
  for (const key of ['mean', 'std'] as const) {
    const v = spec[key];
    if (!Array.isArray(v) || v.length !== 3 || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || (key === 'std' && x <= 0))) {
      throw invalid(`${where}.${key}`, key === 'std' ? 'three positive numbers' : 'three finite numbers', v);
    }
  }
  return spec;
}
