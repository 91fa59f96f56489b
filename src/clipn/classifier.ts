/**
 * The CLIPN model as the rest of the product uses it: decode images, embed them, prepare a label
 * set's heads, score. Immutable: a prompt release makes a new classifier sharing the encoders
 * and the text cache, so callers swap one reference atomically and in-flight work finishes on
 * the version it started with.
 */
import { ClipnError } from '../errors.js';
import { preprocess, Limiter, type ImageOptions, type Preprocessed, type PreprocessHooks, type PreprocessSpec } from '../images/index.js';
import { ClipnEncoders, ClipTokenizer, loadBundle, readPrompt, readTemplates, checkPrompt, type Bundle, type EncoderOptions, type GraphLoaded } from '../model/index.js';
import { EmbeddingCache } from './embedding-cache.js';
import { buildHeads, type HeadBuildStats } from './heads.js';
import type { LabelSet } from './label-set.js';
import { scoreImages, type Heads, type ImageScore } from './scorer.js';

/** Options of {@link ClipnClassifier.load}. */
export interface ClassifierOptions {
  encoders: EncoderOptions;
  images: Pick<ImageOptions, 'maxBytes' | 'maxPixels' | 'decodeConcurrency'> & Partial<Pick<ImageOptions, 'background' | 'maxAspectRatio' | 'elongated'>>;
  cache: { dir: string | null; maxEntries: number };
  topK: number;
  /** Load progress, for logs: the bundle verified, then each graph's session ready. */
  progress?: { verified?: (modelVersion: string) => void; graphLoaded?: GraphLoaded };
}

/** A label set with its heads, ready to score against. */
export interface PreparedLabelSet {
  readonly labelSet: LabelSet;
  readonly templates: readonly string[];
  readonly heads: Heads;
  readonly modelVersion: string;
  readonly promptVersion: string;
  readonly stats: HeadBuildStats;
}

interface Shared {
  bundle: Bundle;
  encoders: ClipnEncoders;
  tokenizer: ClipTokenizer;
  cache: EmbeddingCache;
  limiter: Limiter;
  defaultTemplates: readonly string[];
  options: ClassifierOptions;
}

export class ClipnClassifier {
  private constructor(
    private readonly shared: Shared,
    private readonly prompt: Float32Array,
    /** The version of the "no" prompt in use. */
    readonly promptVersion: string,
    /** Encoders with a no-tower release's tower; null: the bundle's own tower. */
    private readonly tower: ClipnEncoders | null = null,
  ) {}

  /** Loads and verifies a bundle, its encoders and tokenizer. */
  static async load(bundleDir: string, options: ClassifierOptions): Promise<ClipnClassifier> {
    const bundle = await loadBundle(bundleDir);
    options.progress?.verified?.(bundle.manifest.modelVersion);
    const [encoders, tokenizer, prompt, templates] = await Promise.all([
      ClipnEncoders.load(bundle, options.encoders, options.progress?.graphLoaded),
      ClipTokenizer.fromBundle(bundle),
      readPrompt(bundle),
      readTemplates(bundle),
    ]);
    const shared: Shared = {
      bundle,
      encoders,
      tokenizer,
      cache: new EmbeddingCache({ dir: options.cache.dir, maxEntries: options.cache.maxEntries }),
      limiter: new Limiter(options.images.decodeConcurrency),
      defaultTemplates: templates ?? ['a photo of a {}.'],
      options,
    };
    return new ClipnClassifier(shared, prompt, bundle.manifest.prompt.version);
  }

  get modelVersion(): string {
    return this.shared.bundle.manifest.modelVersion;
  }

  get modelName(): string {
    return this.shared.bundle.manifest.name;
  }

  get bundle(): Bundle {
    return this.shared.bundle;
  }

  get cache(): EmbeddingCache {
    return this.shared.cache;
  }

  /** Settles when the inference thread stopped on its own: nothing more can be classified, the process should stop. */
  get lost(): Promise<ClipnError> {
    return this.shared.encoders.lost;
  }

  get provider(): string {
    return this.shared.encoders.provider;
  }

  get preprocessSpec(): PreprocessSpec {
    return this.shared.bundle.manifest.preprocess;
  }

  get defaultTemplates(): readonly string[] {
    return this.shared.defaultTemplates;
  }

  /**
   * A classifier with another "no" prompt (a prompt release) on the bundle's own no tower
   * (prompts are trained against it); encoders and cache are shared.
   */
  withPrompt(prompt: Float32Array, promptVersion: string): ClipnClassifier {
    const shape = this.shared.bundle.manifest.prompt.shape;
    checkPrompt(prompt, shape, `prompt ${promptVersion}`);
    return new ClipnClassifier(this.shared, Float32Array.from(prompt), promptVersion);
  }

  /**
   * A classifier with a no-tower release: its text_no graph (verified bytes) and its prompt.
   * The new tower's session belongs to the returned classifier: {@link releaseTower} frees it
   * once nothing uses that classifier any more. Takes ownership of `graph`, which may be left
   * empty: it moves to the inference thread without a copy.
   */
  async withNoTower(graph: Uint8Array, prompt: Float32Array, version: string): Promise<ClipnClassifier> {
    checkPrompt(prompt, this.shared.bundle.manifest.prompt.shape, `prompt ${version}`);
    const tower = await this.shared.encoders.withTextNo(graph, `text_no.onnx of release ${version}`);
    return new ClipnClassifier(this.shared, Float32Array.from(prompt), version, tower);
  }

  /** Whether this classifier serves a no-tower release's tower instead of the bundle's. */
  get hasReleasedTower(): boolean {
    return this.tower !== null;
  }

  /** Frees a no-tower release's tower (no-op on the bundle's own tower). */
  async releaseTower(): Promise<void> {
    await this.tower?.releaseTextNo();
  }

  /** Decodes and preprocesses untrusted bytes, at most decodeConcurrency at a time. */
  decode(bytes: Uint8Array, hooks: PreprocessHooks = {}): Promise<Preprocessed> {
    return this.shared.limiter.run(() => preprocess(bytes, this.preprocessSpec, this.shared.options.images, hooks));
  }

  /** Builds a label set's heads (only texts missing from the cache are encoded). */
  async prepare(labelSet: LabelSet): Promise<PreparedLabelSet> {
    const templates = labelSet.templates ?? this.shared.defaultTemplates;
    const { heads, stats } = await buildHeads(
      { ...this.shared, encoders: this.tower ?? this.shared.encoders, modelVersion: this.modelVersion, prompt: this.prompt, promptVersion: this.promptVersion },
      labelSet.labels,
      templates,
    );
    return Object.freeze({ labelSet, templates, heads, modelVersion: this.modelVersion, promptVersion: this.promptVersion, stats });
  }

  /** [n*3*S*S] tensors -> [n*D] image embeddings. */
  embed(pixels: Float32Array, n: number): Promise<Float32Array> {
    return this.shared.encoders.encodeImages(pixels, n);
  }

  /** Scores embeddings against a prepared label set, with its calibrated thresholds if it routes by them. */
  score(embeds: Float32Array, n: number, prepared: PreparedLabelSet): ImageScore[] {
    if (prepared.modelVersion !== this.modelVersion) {
      throw new ClipnError('INTERNAL', `label set ${prepared.labelSet.id} was prepared for ${prepared.modelVersion}, not ${this.modelVersion}`);
    }
    const ls = prepared.labelSet;
    return scoreImages(embeds, n, prepared.heads, {
      logitScale: this.shared.bundle.manifest.scoring.logitScale,
      topK: this.shared.options.topK,
      thresholds: ls.routing.rule === 'calibrated' ? ls.thresholds : null,
    });
  }

  /** Stacks preprocessed tensors into one NCHW batch. */
  static stack(tensors: readonly Float32Array[]): Float32Array {
    const per = tensors[0]?.length ?? 0;
    const out = new Float32Array(per * tensors.length);
    tensors.forEach((t, i) => out.set(t, i * per));
    return out;
  }

  async close(): Promise<void> {
    await this.releaseTower();
    await this.shared.encoders.release();
  }
}
