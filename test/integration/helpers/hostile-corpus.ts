/**
 * Hostile input for the sidecar's topics: broken, misleading and oversized images as raw
 * values, and Avro records crafted byte by byte (the Avro binary encoding) to break decoders:
 * block-count bombs, negative counts, strings longer than the record, wrong union indexes,
 * unknown fingerprints, the wrong record type. Every input carries its id in clipn-id.
 */
import { createDeflate, crc32 } from 'node:zlib';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { createCodec, type RecordName } from '../../../src/codec/index.js';
import { ROOT } from '../../helpers/clipn-cli.js';

/** One input and what must become of it. */
export interface HostileInput {
  id: string;
  value: Buffer;
  headers: Record<string, string>;
  /** 'result': a TaggedImage; 'dead-letter': a DeadLetter (any code). */
  expect: 'result' | 'dead-letter';
  what: string;
}

/** Zig-zag varint (Avro int and long). */
export function varint(n: bigint): Buffer {
  let z = n >= 0n ? n << 1n : ((-n) << 1n) - 1n;
  const out: number[] = [];
  do {
    let byte = Number(z & 0x7fn);
    z >>= 7n;
    if (z > 0n) byte |= 0x80;
    out.push(byte);
  } while (z > 0n);
  return Buffer.from(out);
}

/** An Avro string or bytes: length, then the bytes. */
export const avroString = (s: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([varint(BigInt(b.length)), b]);
};

const codec = createCodec({ registryUrl: null });

/** The 10-byte single-object header of a record type (marker and fingerprint). */
export async function header(name: RecordName, example: unknown): Promise<Buffer> {
  return (await codec.encode(name, example)).subarray(0, 10);
}

const validRequest = { id: 'x', image: { 'io.clipn.v1.ImageUri': { uri: 'https://example.com/x.png' } }, labelSetId: null, caption: null, metadata: {}, producedAt: null };

/** An ImageRequest body up to (not including) its metadata map: id, an empty inline image, nulls. */
function requestPrefix(id: string): Buffer {
  return Buffer.concat([avroString(id), varint(0n), avroString(Buffer.alloc(0)), varint(0n), varint(0n), varint(0n)]);
}

/** Avro records crafted against ImageRequest (and others) that no decoder should trust. */
export async function avroBombs(tag: string): Promise<Array<{ what: string; bytes: (id: string) => Buffer }>> {
  const req = await header('ImageRequest', validRequest);
  const labelSet = await header('LabelSet', { id: 'a', version: 1, labels: ['a'], templates: null, routing: { rule: 'atd', params: {} }, thresholds: null, description: null, updatedAt: 1 });
  const decision = await header('ReviewDecision', { itemId: 'i', decision: 'new_concept', label: null, concept: 'c', caption: null, reviewer: null, decidedAt: 1 });
  return [
    { what: 'map block count 2^60', bytes: (id) => Buffer.concat([req, requestPrefix(id), varint(2n ** 60n)]) },
    { what: 'map block count 2^31', bytes: (id) => Buffer.concat([req, requestPrefix(id), varint(2n ** 31n), avroString('k'), avroString('v')]) },
    { what: 'negative map block count with a byte size past the end', bytes: (id) => Buffer.concat([req, requestPrefix(id), varint(-(2n ** 40n)), varint(2n ** 40n)]) },
    { what: 'negative map block count with a negative byte size', bytes: (id) => Buffer.concat([req, requestPrefix(id), varint(-3n), varint(-5n)]) },
    { what: 'id string longer than the record', bytes: () => Buffer.concat([req, varint(1_000_000n), Buffer.from('short')]) },
    { what: 'inline image bytes longer than the record', bytes: (id) => Buffer.concat([req, avroString(id), varint(0n), varint(2n ** 33n), Buffer.alloc(8)]) },
    { what: 'image union index 7', bytes: (id) => Buffer.concat([req, avroString(id), varint(7n), avroString('x')]) },
    { what: 'image union index -1', bytes: (id) => Buffer.concat([req, avroString(id), varint(-1n), avroString('x')]) },
    { what: 'over-long varint', bytes: () => Buffer.concat([req, Buffer.alloc(12, 0xff), Buffer.from([1])]) },
    { what: 'truncated after the header', bytes: () => Buffer.from(req) },
    { what: 'unknown fingerprint', bytes: (id) => Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from('0123456789abcdef', 'hex').subarray(0, 8), avroString(id)]) },
    { what: 'a LabelSet on the input topic', bytes: (id) => Buffer.concat([labelSet, avroString(id), varint(2n), varint(1n), avroString('a'), varint(0n), varint(0n), varint(0n), varint(0n), varint(0n), varint(2n)]) },
    { what: 'a LabelSet whose labels claim 2^32-1 entries', bytes: (id) => Buffer.concat([labelSet, avroString(id), varint(2n), varint(2n ** 32n - 1n)]) },
    { what: 'a ReviewDecision on the input topic', bytes: (id) => Buffer.concat([decision, avroString(id), varint(0n)]) },
    { what: `trailing garbage after a valid record (${tag})`, bytes: (id) => Buffer.concat([req, requestPrefix(id), varint(0n), varint(0n), Buffer.from('trailing')]) },
  ];
}

/** A PNG whose header declares w x h with almost no data. */
export function headerBombPng(w: number, h: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.from([0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01])), pngChunk('IEND', Buffer.alloc(0))]);
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body) >>> 0);
  return Buffer.concat([len, body, crc]);
}

/**
 * A real, complete w x h RGB PNG of one grey (every row deflated, a few MB for 20000 x 20000),
 * made once and kept under .cache/test-fixtures.
 */
export async function hugePng(w: number, h: number): Promise<Buffer> {
  const dir = join(ROOT, '.cache', 'test-fixtures');
  const file = join(dir, `solid-${w}x${h}.png`);
  if (existsSync(file)) return readFileSync(file);
  const deflate = createDeflate({ level: 1 });
  const chunks: Buffer[] = [];
  deflate.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => deflate.on('end', resolve).on('error', reject));
  const row = Buffer.alloc(1 + 3 * w, 0x80);
  row[0] = 0; // filter type none
  for (let y = 0; y < h; y++) {
    if (!deflate.write(row)) await new Promise((r) => deflate.once('drain', r));
  }
  deflate.end();
  await done;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', Buffer.concat(chunks)), pngChunk('IEND', Buffer.alloc(0))]);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, png);
  return png;
}

/** Deterministic pseudo-random bytes. */
export function noise(n: number, seed: number): Buffer {
  let s = seed >>> 0 || 1;
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** Raw values: broken, misleading and oversized images; and valid ones that must be tagged. */
export async function rawCases(): Promise<Array<{ what: string; value: Buffer; expect: 'result' | 'dead-letter' }>> {
  const photo = sharp({ create: { width: 120, height: 90, channels: 3, background: { r: 40, g: 120, b: 200 } } });
  const jpeg = await photo.clone().jpeg().toBuffer();
  const png = await photo.clone().png().toBuffer();
  const webp = await photo.clone().webp().toBuffer();
  const gif = await photo.clone().gif().toBuffer();
  const strip = (w: number, h: number) => sharp(noise(w * h * 3, w + h), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  return [
    { what: 'zero bytes', value: Buffer.alloc(0), expect: 'dead-letter' },
    { what: 'random bytes', value: noise(4096, 7), expect: 'dead-letter' },
    { what: 'truncated JPEG', value: jpeg.subarray(0, Math.floor(jpeg.length / 2)), expect: 'dead-letter' },
    { what: 'truncated PNG', value: png.subarray(0, Math.floor(png.length / 2)), expect: 'dead-letter' },
    { what: 'truncated WebP', value: webp.subarray(0, Math.floor(webp.length / 2)), expect: 'dead-letter' },
    { what: 'truncated GIF', value: gif.subarray(0, Math.floor(gif.length / 2)), expect: 'dead-letter' },
    { what: 'text', value: Buffer.from('hello, this is not an image\n'), expect: 'dead-letter' },
    { what: 'HTML', value: Buffer.from('<!doctype html><html><body><img src="x.png"></body></html>'), expect: 'dead-letter' },
    { what: 'SVG', value: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="http://127.0.0.1:1/x"/></svg>'), expect: 'dead-letter' },
    { what: '50000x50000 PNG header bomb', value: headerBombPng(50000, 50000), expect: 'dead-letter' },
    { what: 'a real 20000x20000 PNG', value: await hugePng(20000, 20000), expect: 'dead-letter' },
    { what: '10x7970 PNG', value: await strip(10, 7970), expect: 'result' },
    { what: '7970x10 PNG', value: await strip(7970, 10), expect: 'result' },
    { what: 'JPEG', value: jpeg, expect: 'result' },
    { what: 'PNG', value: png, expect: 'result' },
  ];
}

/** At least `n` hostile inputs, raw and Avro, interleaved with valid images, each with its own id. */
export async function hostileCorpus(n: number, tag: string, valid: readonly Buffer[]): Promise<HostileInput[]> {
  const raw = await rawCases();
  const bombs = await avroBombs(tag);
  const out: HostileInput[] = [];
  for (let i = 0; out.length < n; i++) {
    const id = `${tag}-${i}`;
    const pick = i % 4;
    if (pick === 0) {
      const c = raw[(i >> 2) % raw.length]!;
      // Random bytes vary, so the corpus is not the same few values again and again.
      const value = c.what === 'random bytes' ? noise(64 + (i % 5000), i) : c.value;
      out.push({ id, value, headers: { 'clipn-id': id }, expect: c.expect, what: c.what });
    } else if (pick === 1 || pick === 2) {
      const b = bombs[(i >> 1) % bombs.length]!;
      out.push({ id, value: b.bytes(id), headers: { 'clipn-id': id }, expect: 'dead-letter', what: b.what });
    } else {
      out.push({ id, value: valid[i % valid.length]!, headers: { 'clipn-id': id, 'content-type': 'image/png' }, expect: 'result', what: 'a demo image' });
    }
  }
  return out;
}
