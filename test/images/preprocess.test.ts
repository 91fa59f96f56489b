import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { preprocess, resizePlan, roundHalfEven } from '../../src/images/index.js';
import { isClipnError } from '../../src/errors.js';

const spec = { imageSize: 32, mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.5, 0.5] as const };
const limits = { maxBytes: 10_000_000, maxPixels: 50_000_000 };
const pixel = (t: Float32Array, c: number, y: number, x: number): number => t[c * 32 * 32 + y * 32 + x]!;

const solid = (w: number, h: number, rgb: [number, number, number]) => sharp({ create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } });

test('the reference geometry: floor for the long side, half-to-even crop offsets', () => {
  assert.deepEqual(resizePlan(301, 199, 224), { width: 338, height: 224, left: 57, top: 0 });
  assert.equal(roundHalfEven(0.5), 0);
  assert.equal(roundHalfEven(1.5), 2);
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(-0.5), -0);
});

test('JPEG and PNG of odd sizes become normalised 3x32x32 tensors', async () => {
  for (const buf of [await solid(301, 199, [255, 0, 0]).jpeg().toBuffer(), await solid(97, 211, [0, 0, 255]).png().toBuffer()]) {
    const { tensor } = await preprocess(buf, spec, limits);
    assert.equal(tensor.length, 3 * 32 * 32);
    for (const v of tensor) assert.ok(v >= -1.0001 && v <= 1.0001);
  }
  const red = await preprocess(await solid(50, 40, [255, 0, 0]).png().toBuffer(), spec, limits);
  assert.ok(Math.abs(pixel(red.tensor, 0, 10, 10) - 1) < 1e-6 && Math.abs(pixel(red.tensor, 2, 10, 10) + 1) < 1e-6);
});

test('grayscale, CMYK and 16-bit inputs become RGB', async () => {
  const gray = await solid(40, 40, [128, 128, 128]).toColourspace('b-w').png().toBuffer();
  const cmyk = await solid(40, 40, [200, 30, 30]).toColourspace('cmyk').jpeg().toBuffer();
  const deep = await solid(40, 40, [0, 255, 0]).toColourspace('rgb16').png().toBuffer();
  assert.equal((await sharp(deep).metadata()).depth, 'ushort');
  const g = (await preprocess(gray, spec, limits)).tensor;
  assert.ok(Math.abs(pixel(g, 0, 5, 5) - pixel(g, 2, 5, 5)) < 1e-6);
  const c = (await preprocess(cmyk, spec, limits)).tensor;
  assert.ok(pixel(c, 0, 5, 5) > pixel(c, 1, 5, 5), 'CMYK red stays red after conversion');
  const d = (await preprocess(deep, spec, limits)).tensor;
  assert.ok(pixel(d, 1, 5, 5) > 0.99 && pixel(d, 0, 5, 5) < -0.99);
});

test('alpha is composited over white', async () => {
  const transparent = await sharp({ create: { width: 40, height: 40, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const { tensor } = await preprocess(transparent, spec, limits);
  assert.ok(tensor.every((v) => Math.abs(v - 1) < 1e-6));
});

test('EXIF orientation is applied: a landscape image tagged 6 becomes portrait', async () => {
  // Left half black, right half white; rotated 90 degrees clockwise the black half is on top.
  const left = await solid(40, 40, [0, 0, 0]).png().toBuffer();
  const img = await solid(80, 40, [255, 255, 255]).composite([{ input: left, left: 0, top: 0 }]).withMetadata({ orientation: 6 }).jpeg({ quality: 95 }).toBuffer();
  const { tensor, width, height } = await preprocess(img, spec, limits);
  assert.deepEqual([width, height], [40, 80]);
  assert.ok(pixel(tensor, 0, 2, 16) < -0.9, 'top is black');
  assert.ok(pixel(tensor, 0, 30, 16) > 0.9, 'bottom is white');
});

test('bad input: coded errors, never a crash', async () => {
  const jpeg = await solid(64, 64, [10, 200, 10]).jpeg().toBuffer();
  const cases: Array<[string, Buffer, string]> = [
    ['zero bytes', Buffer.alloc(0), 'IMAGE_EMPTY'],
    ['text renamed .jpg', Buffer.from('just some text, certainly not a JPEG'), 'IMAGE_UNSUPPORTED_FORMAT'],
    ['truncated JPEG', jpeg.subarray(0, jpeg.length >> 1), 'IMAGE_TRUNCATED'],
    ['30000x30000 PNG header', bombPng(30000, 30000), 'IMAGE_TOO_MANY_PIXELS'],
    ['SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'), 'IMAGE_UNSUPPORTED_FORMAT'],
  ];
  for (const [what, bytes, code] of cases) {
    await assert.rejects(preprocess(bytes, spec, limits), (e: unknown) => isClipnError(e) && e.code === code, what);
  }
  await assert.rejects(preprocess(jpeg, spec, { ...limits, maxBytes: 100 }), (e: unknown) => isClipnError(e, 'IMAGE_TOO_MANY_BYTES'));
});

/** A PNG whose header claims w x h with a valid CRC and almost no data: a decompression bomb. */
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
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), chunk('IEND', Buffer.alloc(0))]);
}
