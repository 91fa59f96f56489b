/**
 * Image inference in micro-batches across partitions. When a batch run fails, its images are
 * run one by one, so one image that makes the encoder throw fails alone and its batch mates
 * still get their embeddings.
 */
import { ClipnClassifier, type ImageScore, type PreparedLabelSet } from '../clipn/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import { MicroBatcher, type MicroBatcherOptions } from './micro-batcher.js';

/** One image to embed and score. */
export interface InferItem {
  tensor: Float32Array;
  classifier: ClipnClassifier;
  prepared: PreparedLabelSet;
}

/** Its embedding, scores and timings (ms, on the performance.now() clock). */
export interface InferResult {
  score: ImageScore;
  embedding: Float32Array;
  inferMs: number;
  scoreMs: number;
  inferStart: number;
  inferEnd: number;
}

type Outcome = InferResult | ClipnError;

export class Inference {
  private readonly batcher: MicroBatcher<InferItem, Outcome>;

  constructor(options: MicroBatcherOptions, onBatch?: (size: number) => void) {
    this.batcher = new MicroBatcher(options, (items) => this.run(items), onBatch);
  }

  /** Embeds and scores one image in the next batch; rejects with this image's own failure. */
  async infer(item: InferItem): Promise<InferResult> {
    const outcome = await this.batcher.submit(item);
    if (outcome instanceof ClipnError) throw outcome;
    return outcome;
  }

  /** Refuses new images; queued ones still run. */
  close(): void {
    this.batcher.close();
  }

  private async run(items: InferItem[]): Promise<Outcome[]> {
    try {
      return await embedAndScore(items);
    } catch (error) {
      if (items.length === 1) return [toClipnError(error, 'INFERENCE_FAILED')];
      // Find the image that fails: the others must not share its fate.
      const alone: Outcome[] = [];
      for (const item of items) alone.push(await embedAndScore([item]).then((r) => r[0]!, (e: unknown) => toClipnError(e, 'INFERENCE_FAILED')));
      return alone;
    }
  }
}

async function embedAndScore(items: InferItem[]): Promise<InferResult[]> {
  const t0 = performance.now();
  // Every classifier of a batch shares the image tower: prompt and tower releases change text only.
  const embeds = await items[0]!.classifier.embed(ClipnClassifier.stack(items.map((i) => i.tensor)), items.length);
  const t1 = performance.now();
  const dim = embeds.length / items.length;
  return items.map((item, i) => {
    const s0 = performance.now();
    const embedding = embeds.slice(i * dim, (i + 1) * dim);
    const score = item.classifier.score(embedding, 1, item.prepared)[0]!;
    return { score, embedding, inferMs: t1 - t0, scoreMs: performance.now() - s0, inferStart: t0, inferEnd: t1 };
  });
}
