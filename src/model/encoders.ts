/**
 * The three CLIPN encoders of a bundle on ONNX Runtime: image, yes text, no text (with the
 * prompt as an input). Image batches of any size are split into runs of at most `maxBatch`.
 *
 * Texts run at their true length where the text graphs have a dynamic sequence axis: CLIP's
 * text transformer is causally masked, so the end-of-text row depends only on the tokens up to
 * it, and a batch padded to its longest text gives the embeddings of all 77 positions. Texts are
 * sorted by token count and batched by length; a run holds at most maxBatch x contextLength
 * tokens (short texts go in bigger batches). Graphs with a fixed 77-position axis (bundles
 * exported before the dynamic axis) get every text padded to 77.
 */
import { ClipnError } from '../errors.js';
import type { Bundle } from './bundle.js';
import type { Feed, OnnxOptions, OnnxSession, Output } from './onnx.js';
import type { InferenceThread } from './execution-providers.js';
import { createSessionHost, type SessionHost } from './session-host.js';

/** Options of {@link ClipnEncoders}. */
export interface EncoderOptions extends OnnxOptions {
  /** Largest batch handed to one run (bigger inputs are split). */
  maxBatch: number;
  /**
   * Create the three sessions one after another (default true): each session's load holds its
   * graph twice for a moment (file bytes and initialised weights), and loading them together
   * stacks those peaks.
   */
  sequentialLoad?: boolean;
  /** Memory patterns for the text graphs too (default false: they take a new shape at almost every run). */
  textMemPattern?: boolean;
  /** Where the sessions run (default worker: the event loop stays free while a batch runs). */
  inferenceThread?: InferenceThread;
}

/** Token ids of one text: start, BPE ids, end; at most contextLength of them, no padding. */
export type TokenRow = readonly number[];

/** Whether a text graph takes any sequence length: from the session, else from the manifest. */
function dynamicLength(session: OnnxSession, declared: readonly (number | string)[] | undefined, contextLength: number): boolean {
  const axis = session.inputShapes.input_ids?.[1] ?? declared?.[1];
  if (typeof axis === 'string') return true;
  if (axis === undefined || axis < 0) return false;
  if (axis !== contextLength) {
    throw new ClipnError('MODEL_LOAD_FAILED', `${session.path}: input_ids has ${axis} positions, expected ${contextLength} (tokenizer.contextLength) or a dynamic axis`);
  }
  return false;
}

/** The loaded encoders. */
/** Called when a graph's session is ready: its file and the milliseconds it took. */
export type GraphLoaded = (file: string, ms: number) => void;

export class ClipnEncoders {
  private readonly textDynamic: boolean;
  private readonly textNoDynamic: boolean;

  private constructor(
    private readonly host: SessionHost,
    private readonly image: OnnxSession,
    private readonly text: OnnxSession,
    private readonly textNo: OnnxSession,
    readonly embedDim: number,
    readonly imageSize: number,
    readonly contextLength: number,
    readonly promptShape: readonly [number, number],
    private readonly maxBatch: number,
    private readonly onnx: EncoderOptions,
    declared: { text?: readonly (number | string)[]; textNo?: readonly (number | string)[] } = {},
  ) {
    this.textDynamic = dynamicLength(text, declared.text, contextLength);
    this.textNoDynamic = dynamicLength(textNo, declared.textNo, contextLength);
  }

  /** `graphLoaded` hears of each graph's session as it is ready (for logs: a large graph takes seconds). */
  static async load(bundle: Bundle, options: EncoderOptions, graphLoaded?: GraphLoaded): Promise<ClipnEncoders> {
    const g = bundle.manifest.graphs;
    // Text graphs take many shapes (every length, every batch): memory patterns would keep a plan per shape.
    const textOptions: OnnxOptions = { ...options, memPattern: options.textMemPattern ?? false };
    const specs = [[g.image, options], [g.text, textOptions], [g.textNo, textOptions]] as const;
    const host = createSessionHost(options.inferenceThread ?? 'worker');
    const sessions: OnnxSession[] = [];
    const create = async (file: string, o: EncoderOptions | OnnxOptions): Promise<OnnxSession> => {
      const started = performance.now();
      const session = await host.create({ path: bundle.path(file) }, o);
      graphLoaded?.(file, performance.now() - started);
      return session;
    };
    try {
      if (options.sequentialLoad ?? true) {
        for (const [spec, o] of specs) sessions.push(await create(spec.file, o));
      } else {
        sessions.push(...(await Promise.all(specs.map(([spec, o]) => create(spec.file, o)))));
      }
    } catch (error) {
      await Promise.all(sessions.map((s) => s.release()));
      await host.close();
      throw error;
    }
    const [image, text, textNo] = sessions;
    const m = bundle.manifest;
    const declared = { text: g.text.inputs.find((i) => i.name === 'input_ids')?.shape, textNo: g.textNo.inputs.find((i) => i.name === 'input_ids')?.shape };
    try {
      return new ClipnEncoders(host, image!, text!, textNo!, m.architecture.embedDim, m.preprocess.imageSize, m.tokenizer.contextLength, m.prompt.shape, Math.max(1, options.maxBatch), options, declared);
    } catch (error) {
      await Promise.all([image!.release(), text!.release(), textNo!.release()]);
      await host.close();
      throw error;
    }
  }

  /**
   * The same encoders with another no-text tower (a no-tower release): the image and yes-text
   * sessions are shared, so release only the new tower with {@link releaseTextNo} when it is
   * replaced. The graph must take the bundle's no-tower inputs and give its output. Takes
   * ownership of `graph` (see GraphSource): on the worker thread its buffer is moved there.
   */
  async withTextNo(graph: Uint8Array, name: string): Promise<ClipnEncoders> {
    const session = await this.host.create({ bytes: graph, name }, { ...this.onnx, memPattern: this.onnx.textMemPattern ?? false });
    const want = { inputs: [...this.textNo.inputNames].sort(), outputs: [...this.textNo.outputNames].sort() };
    const got = { inputs: [...session.inputNames].sort(), outputs: [...session.outputNames].sort() };
    if (JSON.stringify(want) !== JSON.stringify(got)) {
      await session.release();
      throw new ClipnError('MODEL_LOAD_FAILED', `${name}: expected a no-text tower with inputs [${want.inputs.join(', ')}] and outputs [${want.outputs.join(', ')}], got inputs [${got.inputs.join(', ')}] and outputs [${got.outputs.join(', ')}]`);
    }
    try {
      return new ClipnEncoders(this.host, this.image, this.text, session, this.embedDim, this.imageSize, this.contextLength, this.promptShape, this.maxBatch, this.onnx);
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** Whether the yes and no text graphs take texts at their true length (else at contextLength). */
  get textLengths(): { yes: 'dynamic' | 'fixed'; no: 'dynamic' | 'fixed' } {
    return { yes: this.textDynamic ? 'dynamic' : 'fixed', no: this.textNoDynamic ? 'dynamic' : 'fixed' };
  }

  /** Releases the no-text tower only (one that {@link withTextNo} loaded). */
  releaseTextNo(): Promise<void> {
    return this.textNo.release();
  }

  /** The thread inference runs on (model.inferenceThread). */
  get inferenceThread(): InferenceThread {
    return this.host.thread;
  }

  /** Settles when the inference thread stopped on its own: the encoders can run nothing more (see SessionHost.lost). */
  get lost(): Promise<ClipnError> {
    return this.host.lost;
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

  /** Token rows -> [n*D] yes-tower embeddings in the rows' order, batched by length. */
  encodeTextRows(rows: readonly TokenRow[]): Promise<Float32Array> {
    return this.byLength(rows, this.textDynamic, (input_ids) => this.text.run({ input_ids }));
  }

  /** Token rows and a [77*W] prompt -> [n*D] no-tower embeddings in the rows' order, batched by length. */
  encodeTextRowsNo(rows: readonly TokenRow[], prompt: Float32Array): Promise<Float32Array> {
    return this.byLength(rows, this.textNoDynamic, (input_ids) => this.textNo.run({ input_ids, prompt: { type: 'float32', data: prompt, dims: this.promptShape } }));
  }

  /** [n*77] ids -> [n*D] yes-tower embeddings, every text at all 77 positions. */
  encodeTexts(ids: BigInt64Array, n: number): Promise<Float32Array> {
    return this.chunked(n, async (start, count) => {
      const data = ids.subarray(start * this.contextLength, (start + count) * this.contextLength);
      const out = await this.text.run({ input_ids: { type: 'int64', data, dims: [count, this.contextLength] } });
      return out.text_embeds!.data;
    });
  }

  /** [n*77] ids and a [77*W] prompt -> [n*D] no-tower embeddings, every text at all 77 positions. */
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

  /** Releases the three sessions and ends their thread (also the sessions of encoders made by {@link withTextNo}). */
  async release(): Promise<void> {
    await Promise.all([this.image.release(), this.text.release(), this.textNo.release()]);
    await this.host.close();
  }

  private async byLength(rows: readonly TokenRow[], dynamic: boolean, run: (ids: Feed & { type: 'int64' }) => Promise<Record<string, Output>>): Promise<Float32Array> {
    const ctx = this.contextLength;
    rows.forEach((row, i) => {
      if (row.length === 0 || row.length > ctx) {
        throw new ClipnError('INFERENCE_FAILED', `text ${i}: expected 1 to ${ctx} token ids (tokenizer.contextLength), got ${row.length}`);
      }
    });
    const dim = this.embedDim;
    const out = new Float32Array(rows.length * dim);
    // Shortest first; a stable sort keeps equal lengths in input order (deterministic batches).
    const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.length - rows[b]!.length || a - b);
    const budget = this.maxBatch * ctx;
    for (let start = 0; start < order.length; ) {
      let end = start + 1;
      // Sorted ascending: the batch's length is its last row's.
      while (end < order.length && (end - start + 1) * (dynamic ? rows[order[end]!]!.length : ctx) <= budget) end++;
      const batch = order.slice(start, end);
      const length = dynamic ? rows[batch[batch.length - 1]!]!.length : ctx;
      const data = new BigInt64Array(batch.length * length);
      batch.forEach((r, j) => rows[r]!.forEach((id, c) => (data[j * length + c] = BigInt(id))));
      const part = (await run({ type: 'int64', data, dims: [batch.length, length] })).text_embeds?.data;
      if (part?.length !== batch.length * dim) {
        throw new ClipnError('INFERENCE_FAILED', `text encoder output: expected ${batch.length}x${dim} values, got ${part?.length ?? 'none'}`);
      }
      batch.forEach((r, j) => out.set(part.subarray(j * dim, (j + 1) * dim), r * dim));
      start = end;
    }
    return out;
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
