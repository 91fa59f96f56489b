import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { preprocess, preprocessBatch, type PreprocessSpec } from '../../src/images/index.js';
import { isClipnError, type ErrorCode } from '../../src/errors.js';

// mean 0.5 / std 0.5 maps 8-bit 0..255 to -1..1, so expected values follow from the colours.
const S = 32;
const spec: PreprocessSpec = { imageSize: S, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
const limits = { maxBytes: 10_000_000, maxPixels: 50_000_000 };
const px = (t: Float32Array, c: number, y: number, x: number): number => t[c * S * S + y * S + x]!;
const norm = (v: number): number => (v / 255 - 0.5) / 0.5;
const solid = (w: number, h: number, rgb: [number, number, number]) => sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });

const isCode = (code: ErrorCode) => (e: unknown) => isClipnError(e, code);

test('JPEG and PNG of odd sizes, down and up, become normalised 3xSxS tensors', async () => {
  const inputs = [
    await solid(301, 199, [255, 0, 0]).jpeg().toBuffer(),
    await solid(97, 211, [0, 0, 255]).png().toBuffer(),
    await solid(7, 5, [0, 255, 0]).png().toBuffer(),
    await solid(1, 1, [128, 128, 128]).png().toBuffer(),
  ];
  for (const buf of inputs) {
    const { tensor } = await preprocess(buf, spec, limits);
    assert.equal(tensor.length, 3 * S * S);
    for (const v of tensor) assert.ok(v >= -1 - 1e-6 && v <= 1 + 1e-6, `value ${v} in [-1, 1]`);
  }
  const red = await preprocess(await solid(50, 40, [255, 0, 0]).png().toBuffer(), spec, limits);
  assert.deepEqual([red.width, red.height, red.format], [50, 40, 'png']);
  assert.ok(Math.abs(px(red.tensor, 0, 10, 10) - 1) < 1e-6 && Math.abs(px(red.tensor, 2, 10, 10) + 1) < 1e-6);
  const grey = await preprocess(inputs[3]!, spec, limits);
  assert.ok(grey.tensor.every((v) => Math.abs(v - norm(128)) < 1e-6), 'a 1x1 image upscales to a uniform tensor');
});

test('the centre crop keeps the middle: a wide image with coloured ends loses the ends', async () => {
  // 96x32 -> no resize at S=32 on the short side; crop x 32..63 is all green, ends red and blue.
  const img = await solid(96, 32, [0, 255, 0])
    .composite([{ input: await solid(32, 32, [255, 0, 0]).png().toBuffer(), left: 0, top: 0 }, { input: await solid(32, 32, [0, 0, 255]).png().toBuffer(), left: 64, top: 0 }])
    .png()
    .toBuffer();
  const { tensor } = await preprocess(img, spec, limits);
  for (const x of [0, 15, 31]) assert.deepEqual([px(tensor, 0, 5, x), px(tensor, 1, 5, x), px(tensor, 2, 5, x)], [-1, 1, -1], `column ${x} is green`);
});

test('grayscale, CMYK and 16-bit inputs become 8-bit RGB', async () => {
  const gray = await solid(40, 40, [128, 128, 128]).toColourspace('b-w').png().toBuffer();
  assert.equal((await sharp(gray).metadata()).channels, 1);
  const cmyk = await solid(40, 40, [200, 30, 30]).toColourspace('cmyk').jpeg().toBuffer();
  assert.equal((await sharp(cmyk).metadata()).space, 'cmyk');
  const deep = await solid(40, 40, [0, 255, 0]).toColourspace('rgb16').png().toBuffer();
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  const g = (await preprocess(gray, spec, limits)).tensor;
  assert.ok(Math.abs(px(g, 0, 5, 5) - norm(128)) < 0.01 && px(g, 0, 5, 5) === px(g, 1, 5, 5) && px(g, 1, 5, 5) === px(g, 2, 5, 5));
  const c = (await preprocess(cmyk, spec, limits)).tensor;
  assert.ok(px(c, 0, 5, 5) > norm(150) && px(c, 1, 5, 5) < norm(90) && px(c, 2, 5, 5) < norm(90), 'CMYK red stays red after conversion');
  const d = (await preprocess(deep, spec, limits)).tensor;
  assert.ok(Math.abs(px(d, 1, 5, 5) - 1) < 1e-6 && Math.abs(px(d, 0, 5, 5) + 1) < 1e-6, '16-bit green maps to 8-bit 255 and 0');
});

test('alpha is composited over white by default, over the configured background otherwise', async () => {
  const clear = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  assert.ok((await preprocess(clear, spec, limits)).tensor.every((v) => Math.abs(v - 1) < 1e-6), 'transparent -> white');
  const black = (await preprocess(clear, spec, { ...limits, background: { r: 0, g: 0, b: 0 } })).tensor;
  assert.ok(black.every((v) => Math.abs(v + 1) < 1e-6), 'transparent -> configured black');
  // Half-transparent black over white is mid grey: 255 * 0.5, within a rounding level.
  const half = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.5 } } }).png().toBuffer();
  const alpha = (await sharp(half).raw().toBuffer())[3]!;
  const want = norm(255 - alpha);
  for (const v of (await preprocess(half, spec, limits)).tensor) assert.ok(Math.abs(v - want) <= 2 / 127.5, `${v} ~ ${want}`);
});

test('EXIF orientation 6: a landscape image becomes portrait and its left half goes to the top', async () => {
  const left = await solid(40, 40, [0, 0, 0]).png().toBuffer();
  const img = await solid(80, 40, [255, 255, 255]).composite([{ input: left, left: 0, top: 0 }]).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
  assert.equal((await sharp(img).metadata()).orientation, 6);
  const { tensor, width, height } = await preprocess(img, spec, limits);
  assert.deepEqual([width, height], [40, 80]);
  // Portrait 40x80 -> 32x64, crop rows 16..47: rows 0..15 of the crop are black, 16..31 white.
  assert.ok(px(tensor, 0, 2, 16) < -0.9, 'top is black');
  assert.ok(px(tensor, 0, 29, 16) > 0.9, 'bottom is white');
});

test('animated GIF: the first frame only', async () => {
  const frames = [await solid(20, 10, [255, 0, 0]).png().toBuffer(), await solid(20, 10, [0, 0, 255]).png().toBuffer()];
  const gif = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const { tensor, width, height, format } = await preprocess(gif, spec, limits);
  assert.deepEqual([width, height, format], [20, 10, 'gif']);
  assert.ok(px(tensor, 0, 16, 16) > 0.99 && px(tensor, 2, 16, 16) < -0.99, 'red, the first frame');
});

test('bad input: each case has its code, never a crash', async () => {
  const jpeg = await solid(64, 64, [10, 200, 10]).jpeg().toBuffer();
  const png = await solid(64, 64, [10, 200, 10]).png().toBuffer();
  const corrupt = Buffer.from(png);
  for (let i = 40; i < corrupt.length - 12; i++) corrupt[i]! ^= 0x5a;
  const cases: Array<[string, Buffer, ErrorCode]> = [
    ['zero bytes', Buffer.alloc(0), 'IMAGE_EMPTY'],
    ['text named .jpg', Buffer.from('just some text, certainly not a JPEG'), 'IMAGE_UNSUPPORTED_FORMAT'],
    ['PDF', Buffer.from('%PDF-1.4\n1 0 obj\n'), 'IMAGE_UNSUPPORTED_FORMAT'],
    ['SVG (not allowed by default)', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'IMAGE_UNSUPPORTED_FORMAT'],
    ['truncated JPEG', jpeg.subarray(0, jpeg.length >> 1), 'IMAGE_TRUNCATED'],
    ['truncated PNG', png.subarray(0, png.length - 20), 'IMAGE_TRUNCATED'],
    ['corrupt PNG', corrupt, 'IMAGE_DECODE_FAILED'],
    ['30000x30000 PNG header', bombPng(30000, 30000), 'IMAGE_TOO_MANY_PIXELS'],
  ];
  for (const [what, bytes, code] of cases) await assert.rejects(preprocess(bytes, spec, limits), isCode(code), what);
});

test('limits carry the limit and what was got', async () => {
  const jpeg = await solid(64, 64, [10, 200, 10]).jpeg().toBuffer();
  await assert.rejects(preprocess(jpeg, spec, { ...limits, maxBytes: 100 }), (e: unknown) => isClipnError(e, 'IMAGE_TOO_MANY_BYTES') && e.details.limit === 100 && e.details.got === jpeg.length);
  // The header is read first: the bomb is refused from its declared size, nothing is decoded.
  await assert.rejects(preprocess(bombPng(30000, 30000), spec, limits), (e: unknown) =>
    isClipnError(e, 'IMAGE_TOO_MANY_PIXELS') && e.details.limit === limits.maxPixels && e.details.got === 900_000_000 && e.details.width === 30000);
  // At the limit exactly it decodes; one pixel over it does not.
  const img = await solid(50, 40, [1, 2, 3]).png().toBuffer();
  assert.equal((await preprocess(img, spec, { ...limits, maxPixels: 2000 })).width, 50);
  await assert.rejects(preprocess(img, spec, { ...limits, maxPixels: 1999 }), isCode('IMAGE_TOO_MANY_PIXELS'));
  // A thin strip is small to decode but huge once its short side is S: without the crop-first
  // path for elongated images (maxAspectRatio above its ratio) it is refused by its resized size.
  const strip = await solid(4000, 2, [9, 9, 9]).png().toBuffer();
  await assert.rejects(preprocess(strip, { ...spec, imageSize: 224 }, { ...limits, maxPixels: 1_000_000, maxAspectRatio: 1e6 }), (e: unknown) =>
    isClipnError(e, 'IMAGE_TOO_MANY_PIXELS') && Array.isArray(e.details.resized));
});

test('SVG decodes when allowed', async () => {
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="20" height="10"><rect width="20" height="10" fill="#000"/></svg>');
  const { tensor, format } = await preprocess(svg, spec, { ...limits, allowSvg: true });
  assert.equal(format, 'svg');
  assert.ok(tensor.every((v) => Math.abs(v + 1) < 1e-6));
});

test('preprocessBatch: NCHW rows in input order, a bad image fails only its own item', async () => {
  const inputs = [await solid(40, 30, [255, 0, 0]).png().toBuffer(), Buffer.from('nope'), await solid(30, 40, [0, 0, 255]).jpeg().toBuffer(), Buffer.alloc(0)];
  const batch = await preprocessBatch(inputs, spec, { ...limits, decodeConcurrency: 2 });
  assert.equal(batch.count, 2);
  assert.equal(batch.tensor.length, 2 * 3 * S * S);
  assert.deepEqual(batch.items.map((i) => (i.ok ? i.row : i.error.code)), [0, 'IMAGE_UNSUPPORTED_FORMAT', 1, 'IMAGE_EMPTY']);
  for (const [i, row] of [[0, 0], [2, 1]] as const) {
    const single = await preprocess(inputs[i]!, spec, limits);
    assert.deepEqual(batch.tensor.subarray(row * 3 * S * S, (row + 1) * 3 * S * S), single.tensor, `row ${row} equals input ${i} alone`);
  }
  const empty = await preprocessBatch([], spec, { ...limits, decodeConcurrency: 1 });
  assert.deepEqual([empty.count, empty.tensor.length, empty.items.length], [0, 0, 0]);
});

/** A PNG whose header claims w x h with valid CRCs and almost no data: a decompression bomb. */
function bombPng(w: number, h: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const idat = Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

/** A PNG of busy, high-frequency pixels: any resampling misalignment would show. */
async function busy(w: number, h: number): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      raw[i] = (x * 37 + y * 11) % 256;
      raw[i + 1] = (x * y) % 256;
      raw[i + 2] = ((x ^ y) * 5) % 256;
    }
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
}

test('elongated strips: only the part around the crop is upscaled, with exactly the pixels of the whole resize', async () => {
  const spec224: PreprocessSpec = { imageSize: 224, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  for (const [w, h] of [[30, 400], [400, 30], [17, 250], [10, 2000]] as const) {
    const bytes = await busy(w, h);
    const part = await preprocess(bytes, spec224, { ...limits, maxAspectRatio: 10 });
    const whole = await preprocess(bytes, spec224, { ...limits, maxAspectRatio: 1e6 });
    assert.deepEqual(part.tensor, whole.tensor, `${w}x${h}`);
  }
});

test('a 10x7970 strip under the default limits: cropped first, decoding holds under 2 MB instead of ~120 MB of resized strip', async () => {
  const spec224: PreprocessSpec = { imageSize: 224, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  const defaults = { maxBytes: 20 * 1024 * 1024, maxPixels: 40_000_000 };
  for (const [w, h] of [[10, 7970], [7970, 10]] as const) {
    const bytes = await busy(w, h);
    const estimates: number[] = [];
    const { tensor } = await preprocess(bytes, spec224, defaults, { beforeDecode: async (e) => void estimates.push(e.bytes) });
    assert.equal(tensor.length, 3 * 224 * 224);
    // What decoding holds is small: the strip itself and a few hundred rows of the crop's part.
    assert.equal(estimates.length, 1);
    assert.ok(estimates[0]! < 2_000_000, `estimate ${estimates[0]} bytes`);
    await assert.rejects(preprocess(bytes, spec224, { ...defaults, elongated: 'refuse' }), (e: unknown) => isClipnError(e, 'IMAGE_ASPECT_UNSUPPORTED') && /797\.0:1/.test((e as Error).message));
    // Without the crop-first path the same image is resized whole: 224x178528, just under maxPixels.
    const whole: number[] = [];
    await preprocess(bytes, spec224, { ...defaults, maxAspectRatio: 1e6 }, { beforeDecode: async (e) => void whole.push(e.bytes) });
    assert.ok(whole[0]! > 100_000_000, `whole-strip estimate ${whole[0]} bytes`);
  }
});

test('beforeDecode sees the header estimate before any pixel is decoded, and a refusal there stops the decode', async () => {
  const bytes = await solid(300, 200, [10, 20, 30]).png().toBuffer();
  const seen: Array<{ width: number; height: number; bytes: number }> = [];
  await preprocess(bytes, spec, limits, { beforeDecode: async (e) => void seen.push(e) });
  assert.equal(seen.length, 1);
  assert.deepEqual([seen[0]!.width, seen[0]!.height], [300, 200]);
  assert.ok(seen[0]!.bytes >= 300 * 200 * 3, `estimate ${seen[0]!.bytes}`);
  const stop = new Error('budget');
  await assert.rejects(preprocess(bytes, spec, limits, { beforeDecode: async () => Promise.reject(stop) }), (e: unknown) => e !== undefined);
});
