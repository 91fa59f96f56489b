/**
 * The three CLIPN encoders of a bundle on ONNX Runtime: image, yes text, no text (with the
 * prompt as an input). Batches of any size are split into runs of at most `maxBatch`.
 */
import { ClipnError } from '../errors.js';
import type { Bundle } from './bundle.js';
import { createSession, createSessionFromBytes, type OnnxOptions, type OnnxSession } from './onnx.js';

/** Options of {@link ClipnEncoders}. */
export interface EncoderOptions extends OnnxOptions {
  /** Largest batch handed to one run (bigger inputs are split). */
  maxBatch: number;
}

/** The loaded encoders. */
export class ClipnEncoders {
  private constructor(
    private readonly image: OnnxSession,
    private readonly text: OnnxSession,
    private readonly textNo: OnnxSession,
    readonly embedDim: number,
    readonly imageSize: number,
    readonly contextLength: number,
    readonly promptShape: readonly [number, number],
    private readonly maxBatch: number,
    private readonly onnx: OnnxOptions,
  ) {}

  static async load(bundle: Bundle, options: EncoderOptions): Promise<ClipnEncoders> {
    const g = bundle.manifest.graphs;
    const [image, text, textNo] = await Promise.all([g.image, g.text, g.textNo].map((spec) => createSession(bundle.path(spec.file), options)));
    const m = bundle.manifest;
    return new ClipnEncoders(image!, text!, textNo!, m.architecture.embedDim, m.preprocess.imageSize, m.tokenizer.contextLength, m.prompt.shape, Math.max(1, options.maxBatch), options);
  }

  /**
   * The same encoders with another no-text tower (a no-tower release): the image and yes-text
   * sessions are shared, so release only the new tower with {@link releaseTextNo} when it is
   * replaced. The graph must take the bundle's no-tower inputs and give its output.
   */
  async withTextNo(graph: Uint8Array, name: string): Promise<ClipnEncoders> {
    const session = await createSessionFromBytes(graph, name, this.onnx);
    const want = { inputs: [...this.textNo.inputNames].sort(), outputs: [...this.textNo.outputNames].sort() };
    const got = { inputs: [...session.inputNames].sort(), outputs: [...session.outputNames].sort() };
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      await session.release();
      throw new ClipnError('MODEL_LOAD_FAILED', `${name}: expected a no-text tower with inputs [${want.inputs.join(', ')}] and outputs [${want.outputs.join(', ')}], got inputs [${got.inputs.join(', ')}] and outputs [${got.outputs.join(', ')}]`);
    }
    return new ClipnEncoders(this.image, this.text, session, this.embedDim, this.imageSize, this.contextLength, this.promptShape, this.maxBatch, this.onnx);
  }

  /** Releases the no-text tower only (one that {@link withTextNo} loaded). */
  releaseTextNo(): Promise<void> {
    return this.textNo.release();
  }

  /** The provider the image encoder runs on (cpu, cuda, ...). */
  get provider(): string {
    return this.image.provider;
  }

  /** [n,3,S,S] pixels -> [n*D] image embeddings (not normalised). */
  async encodeImages(pixels: Float32Array, n: number): Promise<Float32Array> {
    const per = 3 * this.imageSize * this.imageSize;
    if (pixels.length !== n * per) {
      throw new ClipnError('INFERENCE_FAILED', `image batch: expected ${n}x3x${this.imageSize}x${this.imageSize} = ${n * per} values, got ${pixels.length}`);
    }
    return this.chunked(n, async (start, count) => {
      const data = pixels.subarray(start * per, (start + count) * per);
      const out = await this.image.run({ pixel_values: { type: 'float32', data, dims: [count, 3, this.imageSize, this.imageSize] } });
      return out.image_embeds!.data;
    });
  }

  /** [n*77] ids -> [n*D] yes-tower embeddings. */
  encodeTexts(ids: BigInt64Array, n: number): Promise<Float32Array> {
    return this.chunked(n, async (start, count) => {
      const data = ids.subarray(start * this.contextLength, (start + count) * this.contextLength);
      const out = await this.text.run({ input_ids: { type: 'int64', data, dims: [count, this.contextLength] } });
      return out.text_embeds!.data;
    });
  }

  /** [n*77] ids and a [77*W] prompt -> [n*D] no-tower embeddings. */
  encodeTextsNo(ids: BigInt64Array, n: number, prompt: Float32Array): Promise<Float32Array> {
    return this.chunked(n, async (start, count) => {
      const data = ids.subarray(start * this.contextLength, (start + count) * this.contextLength);
      const out = await this.textNo.run({
        input_ids: { type: 'int64', data, dims: [count, this.contextLength] },
        prompt: { type: 'float32', data: prompt, dims: this.promptShape },
      });
      return out.text_embeds!.data;
    });
  }

  async release(): Promise<void> {
    await Promise.all([this.image.release(), this.text.release(), this.textNo.release()]);
  }

  private async chunked(n: number, run: (start: number, count: number) => Promise<Float32Array>): Promise<Float32Array> {
    const out = new Float32Array(n * this.embedDim);
    for (let start = 0; start < n; start += this.maxBatch) {
      const count = Math.min(this.maxBatch, n - start);
      const part = await run(start, count);
      if (part.length !== count * this.embedDim) {
        throw new ClipnError('INFERENCE_FAILED', `encoder output: expected ${count}x${this.embedDim} values, got ${part.length}`);
      }
      out.set(part, start * this.embedDim);
    }
    return out;
  }
}
