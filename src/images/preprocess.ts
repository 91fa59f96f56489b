/**
 * CLIP preprocessing with sharp, for untrusted bytes, matching the reference in
 * docs/bundle-format.md (measured against PyTorch in docs/preprocessing.md): EXIF orientation,
 * alpha over white, any colour space or depth to 8-bit sRGB, shortest side to S (bicubic),
 * centre crop, normalise, CHW float32. libvips decodes on libuv threads, never the main one.
 */
import sharp, { type OutputInfo } from 'sharp';
import { ClipnError, toClipnError } from '../errors.js';
import { decodeError } from './decode-errors.js';
import { cropSupport, resizePlan, type Region, type ResizePlan } from './geometry.js';
import { DEFAULT_IMAGE_OPTIONS, type ImageOptions, type PreprocessSpec, type Rgb } from './options.js';
import { Limiter } from './pool.js';
import { sniffFormat, type SniffedFormat } from './sniff.js';

// One libvips worker per image: images are small after decoding and are decoded several at a
// time (decodeConcurrency, each on its own libuv thread), so extra threads per image only add
// contention and, on glibc, memory fragmentation. The operation cache never hits for one-off
// untrusted buffers; disabling it keeps decoded images from lingering in memory.
sharp.concurrency(1);
sharp.cache(false);

/** The options preprocessing reads. */
export type PreprocessOptions = Pick<ImageOptions, 'maxBytes' | 'maxPixels'> & Partial<Pick<ImageOptions, 'background' | 'allowSvg' | 'maxAspectRatio' | 'elongated'>>;

/** What decoding an admitted image will take, known from its header before any pixel is decoded. */
export interface DecodeEstimate {
  /** Size after EXIF orientation. */
  width: number;
  height: number;
  /** Bytes of pixels held while decoding: the decoded image (or the part of it read) and its resized copy. */
  bytes: number;
}

/** Callbacks of {@link preprocess}. */
export interface PreprocessHooks {
  /** Called after the header checks, before decoding; decoding waits for it (a memory budget). */
  beforeDecode?(estimate: DecodeEstimate): Promise<void>;
}

/** A preprocessed image. */
export interface Preprocessed {
  /** [3*S*S] CHW float32, normalised. */
  tensor: Float32Array;
  /** Size after EXIF orientation, before resizing. */
  width: number;
  height: number;
  /** The decoded format (jpeg, png, gif, webp, tiff, heif, svg). */
  format: string;
}

/** Edge pixels copied around an image before upscaling: bicubic reads two beyond each edge. */
const UPSCALE_PAD = 3;

function limitError(what: string, got: number, limit: number, extra: Record<string, unknown>): ClipnError {
  return new ClipnError('IMAGE_TOO_MANY_PIXELS', `${what} ${got} pixels, the limit (images.maxPixels) is ${limit}`, { details: { limit, got, ...extra } });
}

/** Checks the bytes before any decoder runs: empty, too large, or not an accepted format. */
function admit(bytes: Uint8Array, options: PreprocessOptions): SniffedFormat {
  if (bytes.byteLength === 0) throw new ClipnError('IMAGE_EMPTY', 'image is empty: expected encoded image bytes, got 0 bytes', { details: { limit: options.maxBytes, got: 0 } });
  if (bytes.byteLength > options.maxBytes) {
    throw new ClipnError('IMAGE_TOO_MANY_BYTES', `image has ${bytes.byteLength} bytes, the limit (images.maxBytes) is ${options.maxBytes}`, {
      details: { limit: options.maxBytes, got: bytes.byteLength },
    });
  }
  const format = sniffFormat(bytes);
  const accepted = options.allowSvg ? 'jpeg, png, gif, webp, tiff, heif/avif, svg' : 'jpeg, png, gif, webp, tiff, heif/avif';
  if (format === null || (format === 'svg' && !options.allowSvg)) {
    const head = Buffer.from(bytes.subarray(0, 8)).toString('hex');
    const got = format === 'svg' ? 'svg (refused unless images.allowSvg)' : `unrecognised data starting 0x${head}`;
    throw new ClipnError('IMAGE_UNSUPPORTED_FORMAT', `expected an image in one of ${accepted}, got ${got}`, { details: { got: format ?? head, accepted } });
  }
  return format;
}

/** Decodes and preprocesses one image. Every failure is a coded {@link ClipnError}. */
export async function preprocess(bytes: Uint8Array, spec: PreprocessSpec, options: PreprocessOptions, hooks: PreprocessHooks = {}): Promise<Preprocessed> {
  const format = admit(bytes, options);
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    // The header first: refuse bombs before a single pixel is decoded.
    const meta = await sharp(input, { limitInputPixels: false }).metadata();
    const declared: string | undefined = meta.format;
    if (declared !== format) {
      throw new ClipnError('IMAGE_UNSUPPORTED_FORMAT', `data starts like ${format} but decodes as ${declared ?? 'nothing'}`, { details: { got: declared ?? null, sniffed: format } });
    }
    const rawW = meta.width ?? 0;
    const rawH = meta.pageHeight ?? meta.height ?? 0;
    if (rawW * rawH > options.maxPixels) throw limitError(`image is ${rawW}x${rawH} =`, rawW * rawH, options.maxPixels, { width: rawW, height: rawH });
    if (rawW < 1 || rawH < 1) throw new ClipnError('IMAGE_DECODE_FAILED', `${format} header declares a ${rawW}x${rawH} image`, { details: { width: rawW, height: rawH } });
    const swap = (meta.orientation ?? 1) >= 5;
    const [width, height] = swap ? [rawH, rawW] : [rawW, rawH];
    const plan = resizePlan(width, height, spec.imageSize);
    const region = partToRead(width, height, plan, spec.imageSize, options);
    // What is built in memory: the resized image, or for an elongated strip only the part around the crop.
    const built = region === null ? plan.width * plan.height : Math.ceil((region.width * plan.width) / width + 8) * Math.ceil((region.height * plan.height) / height + 8);
    // A thin strip resized to a short side of S can be far larger than its input.
    if (built > options.maxPixels) {
      throw limitError(`a ${width}x${height} image resized to ${plan.width}x${plan.height} has`, plan.width * plan.height, options.maxPixels, { width, height, resized: [plan.width, plan.height] });
    }
    const read = region ?? { width, height };
    await hooks.beforeDecode?.({ width, height, bytes: width * height * 4 + (read.width + 2 * UPSCALE_PAD) * (read.height + 2 * UPSCALE_PAD) * 3 + built * 3 });
    const pixels = await decodeToCrop(input, width, height, plan, spec.imageSize, options, region);
    return { tensor: toChw(pixels, spec), width, height, format };
  } catch (error) {
    throw decodeError(error, format, bytes, options.maxPixels);
  }
}

/**
 * For an elongated image (long / short side over images.maxAspectRatio): its refusal, or when
 * it is upscaled the part of it the centre crop reads; null for every other image.
 */
function partToRead(width: number, height: number, plan: ResizePlan, size: number, options: PreprocessOptions): Region | null {
  const ratio = Math.max(width, height) / Math.min(width, height);
  const limit = options.maxAspectRatio ?? DEFAULT_IMAGE_OPTIONS.maxAspectRatio;
  if (ratio <= limit) return null;
  if ((options.elongated ?? DEFAULT_IMAGE_OPTIONS.elongated) === 'refuse') {
    throw new ClipnError('IMAGE_ASPECT_UNSUPPORTED', `image is ${width}x${height} (${ratio.toFixed(1)}:1), the limit (images.maxAspectRatio) is ${limit}:1 and images.elongated is refuse`, {
      details: { width, height, limit },
    });
  }
  // Downscaled, the resized strip is no larger than the decoded one (which maxPixels bounds).
  return plan.width > width ? cropSupport(width, height, plan, size) : null;
}

/** Decoded 8-bit RGB pixels and where the S x S crop lies in them. */
interface Pixels {
  data: Buffer;
  /** Row length in pixels. */
  stride: number;
  left: number;
  top: number;
}

/**
 * The decoded crop. Downscaling uses libvips' antialiased cubic reduce; upscaling an affine
 * bicubic with PIL's pixel centres, over `region` only when given (an elongated strip).
 */
async function decodeToCrop(input: Buffer, width: number, height: number, plan: ResizePlan, size: number, options: PreprocessOptions, region: Region | null): Promise<Pixels> {
  const background: Rgb = options.background ?? DEFAULT_IMAGE_OPTIONS.background;
  const decode = () =>
    sharp(input, { failOn: 'error', limitInputPixels: options.maxPixels, autoOrient: true, pages: 1 })
      .flatten({ background })
      .toColourspace('srgb');
  if (plan.width <= width) {
    let img = decode();
    // fastShrinkOnLoad would let the JPEG decoder subsample first, which changes pixels.
    if (plan.width !== width || plan.height !== height) img = img.resize(plan.width, plan.height, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false });
    const out = await img.extract({ left: plan.left, top: plan.top, width: size, height: size }).removeAlpha().raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    checkRgb(out.info, out.data.length, size, size);
    return { data: out.data, stride: size, left: 0, top: 0 };
  }
  // libvips' resize places upscaled samples differently from PIL; an affine map with
  // x_in = (x_out + 0.5) / s - 0.5 over edge-replicated borders matches it (docs/preprocessing.md).
  const part = region ?? { left: 0, top: 0, width, height };
  const source = region === null ? decode() : decode().extract(part); // before extend: cut first
  const padded = await source
    .extend({ top: UPSCALE_PAD, bottom: UPSCALE_PAD, left: UPSCALE_PAD, right: UPSCALE_PAD, extendWith: 'copy' })
    .removeAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  checkRgb(padded.info, padded.data.length, part.width + 2 * UPSCALE_PAD, part.height + 2 * UPSCALE_PAD);
  const sx = plan.width / width;
  const sy = plan.height / height;
  // The whole image's scale; the output starts at whole output pixel (kx, ky) of the full resize.
  const kx = Math.floor(sx * part.left);
  const ky = Math.floor(sy * part.top);
  // sharp crops before an affine in one pipeline, so the crop is read from the full output.
  const out = await sharp(padded.data, { raw: { width: padded.info.width, height: padded.info.height, channels: 3 }, limitInputPixels: false })
    .affine([sx, 0, 0, sy], {
      interpolator: sharp.interpolators.bicubic,
      odx: sx * (part.left - UPSCALE_PAD) + (sx - 1) / 2 - kx,
      ody: sy * (part.top - UPSCALE_PAD) + (sy - 1) / 2 - ky,
    })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const left = plan.left - kx;
  const top = plan.top - ky;
  if (left < 0 || top < 0 || out.info.width < left + size || out.info.height < top + size) {
    throw new ClipnError('IMAGE_DECODE_FAILED', `upscaled to ${out.info.width}x${out.info.height}, expected the crop at ${left},${top} inside it`);
  }
  checkRgb(out.info, out.data.length, out.info.width, out.info.height);
  return { data: out.data, stride: out.info.width, left, top };
}

function checkRgb(info: OutputInfo, bytes: number, width: number, height: number): void {
  if (info.channels !== 3 || info.width !== width || info.height !== height || bytes !== width * height * 3) {
    throw new ClipnError('IMAGE_DECODE_FAILED', `decoded ${info.width}x${info.height}x${info.channels}, expected ${width}x${height}x3`);
  }
}

function toChw(px: Pixels, spec: PreprocessSpec): Float32Array {
  const size = spec.imageSize;
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  for (let c = 0; c < 3; c++) {
    const mean = spec.mean[c]!;
    const std = spec.std[c]!;
    for (let y = 0; y < size; y++) {
      const src = ((y + px.top) * px.stride + px.left) * 3 + c;
      const dst = c * plane + y * size;
      // Same order of operations as the reference: x/255, then (x - mean)/std.
      for (let x = 0; x < size; x++) out[dst + x] = (px.data[src + x * 3]! / 255 - mean) / std;
    }
  }
  return out;
}

/** One input's outcome in {@link preprocessBatch}. */
export type BatchItem =
  | { ok: true; /** Its row in the batch tensor. */ row: number; width: number; height: number; format: string }
  | { ok: false; error: ClipnError };

/** A decoded batch: the images that decoded, stacked NCHW, and per input what happened. */
export interface PreprocessedBatch {
  /** [count,3,S,S] float32, rows in input order (failed inputs leave no row). */
  tensor: Float32Array;
  count: number;
  items: BatchItem[];
}

/**
 * Preprocesses many images, at most `decodeConcurrency` at a time (or through a shared
 * limiter), into one NCHW tensor. One bad image fails only its own item.
 */
export async function preprocessBatch(
  inputs: readonly Uint8Array[],
  spec: PreprocessSpec,
  options: PreprocessOptions & Pick<ImageOptions, 'decodeConcurrency'>,
  limiter: Limiter = new Limiter(options.decodeConcurrency),
): Promise<PreprocessedBatch> {
  const settled = await Promise.all(
    inputs.map((bytes) =>
      limiter.run(() => preprocess(bytes, spec, options)).then(
        (value) => ({ value }),
        (error: unknown) => ({ error: toClipnError(error, 'IMAGE_DECODE_FAILED') }),
      ),
    ),
  );
  const plane = 3 * spec.imageSize * spec.imageSize;
  const count = settled.filter((s) => 'value' in s).length;
  const tensor = new Float32Array(count * plane);
  let row = 0;
  const items = settled.map((s): BatchItem => {
    if (!('value' in s)) return { ok: false, error: s.error };
    tensor.set(s.value.tensor, row * plane);
    const { width, height, format } = s.value;
    return { ok: true, row: row++, width, height, format };
  });
  return { tensor, count, items };
}
