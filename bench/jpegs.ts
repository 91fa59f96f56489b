/**
 * Benchmark inputs: 640x480 JPEGs made at bench time (smooth colour fields from upscaled noise,
 * so they compress like photographs rather than like noise), and the bare encoder: the
 * project's preprocessing and image encoder at the serve batch size, without Kafka.
 */
import sharp from 'sharp';
import { DEFAULT_IMAGE_OPTIONS, Limiter, preprocessBatch } from '../src/images/index.js';
import type { ClipnEncoders } from '../src/model/index.js';
import { summarize, type Summary } from './stats.js';

export async function makeJpegs(count: number, seed = 7): Promise<Buffer[]> {
  let s = seed >>> 0;
  const rand = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const w = 16;
    const h = 12;
    const raw = Buffer.alloc(w * h * 3);
    for (let j = 0; j < raw.length; j++) raw[j] = Math.floor(rand() * 256);
    out.push(await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).resize(640, 480, { kernel: 'cubic' }).jpeg({ quality: 85 }).toBuffer());
  }
  return out;
}

/** Images/s of preprocess + encode, batch after batch, per round of `batchesPerRound` batches. */
export async function bareEncoder(encoders: ClipnEncoders, jpegs: readonly Buffer[], batch: number, rounds: number, batchesPerRound: number, spec: { imageSize: number; mean: readonly number[]; std: readonly number[] }): Promise<{ rate: Summary; decodeShare: number }> {
  const options = { ...DEFAULT_IMAGE_OPTIONS };
  const limiter = new Limiter(options.decodeConcurrency);
  let k = 0;
  const next = (): Buffer[] => Array.from({ length: batch }, () => jpegs[k++ % jpegs.length]!);
  const one = async (): Promise<[number, number]> => {
    const t0 = performance.now();
    const pre = await preprocessBatch(next(), spec, options, limiter);
    const t1 = performance.now();
    await encoders.encodeImages(pre.tensor, pre.count);
    return [t1 - t0, performance.now() - t1];
  };
  await one();
  const rates: number[] = [];
  let decodeMs = 0;
  let totalMs = 0;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let b = 0; b < batchesPerRound; b++) {
      const [d, e] = await one();
      decodeMs += d;
      totalMs += d + e;
    }
    rates.push((batch * batchesPerRound) / ((performance.now() - t0) / 1000));
  }
  return { rate: summarize(rates), decodeShare: decodeMs / totalMs };
}
