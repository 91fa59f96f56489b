/**
 * Collects work items from every partition into micro-batches of at most `maxBatch` items, or
 * whatever arrived within `maxWaitMs` of the first one, and runs them one batch at a time.
 * Inference is the bottleneck and wants full batches; decoding happens before submit, so the
 * next batch decodes while this one runs.
 */
import { ClipnError } from '../errors.js';

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most items in one batch (>= 1). */
  maxBatch: number;
  /** Longest wait, from the first queued item, before a partial batch runs (>= 0). */
  maxWaitMs: number;
}

interface Pending<TIn, TOut> {
  item: TIn;
  enqueuedAt: number;
  resolve: (value: TOut) => void;
  reject: (error: unknown) => void;
}

/** Runs `run(items)` on micro-batches; `run` returns one output per item, in order. */
export class MicroBatcher<TIn, TOut> {
  private readonly queue: Array<Pending<TIn, TOut>> = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private closed = false;

  constructor(
    private readonly options: MicroBatcherOptions,
    private readonly run: (items: TIn[]) => Promise<TOut[]>,
    private readonly onBatch?: (size: number) => void,
  ) {
    if (!Number.isInteger(options.maxBatch) || options.maxBatch < 1) {
      throw new ClipnError('CONFIG_INVALID', `maxBatch: expected an integer >= 1, got ${options.maxBatch}`);
    }
    if (!(options.maxWaitMs >= 0)) {
      throw new ClipnError('CONFIG_INVALID', `maxWaitMs: expected a number >= 0, got ${options.maxWaitMs}`);
    }
  }

  /** Items queued and not yet handed to a batch. */
  get queued(): number {
    return this.queue.length;
  }

  /** Queues one item; resolves with its output once its batch has run. */
  submit(item: TIn): Promise<TOut> {
    if (this.closed) return Promise.reject(new ClipnError('SHUTDOWN_TIMEOUT', 'the batcher is closed'));
    return new Promise<TOut>((resolve, reject) => {
      this.queue.push({ item, enqueuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Runs what is queued now, without waiting for maxWaitMs. */
  flush(): void {
    this.clearTimer();
    void this.drain();
  }

  /** Refuses new items; queued ones still run. */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length >= this.options.maxBatch || this.options.maxWaitMs === 0) {
      this.flush();
    } else if (this.timer === undefined) {
      // The wait counts from the oldest queued item, which may have waited through a batch run.
      const oldest = this.queue[0]?.enqueuedAt ?? performance.now();
      const delay = Math.max(0, oldest + this.options.maxWaitMs - performance.now());
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.drain();
      }, delay);
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        this.onBatch?.(batch.length);
        try {
          const outputs = await this.run(batch.map((p) => p.item));
          if (outputs.length !== batch.length) {
            throw new ClipnError('INTERNAL', `batch run returned ${outputs.length} outputs for ${batch.length} items`);
          }
          batch.forEach((p, i) => p.resolve(outputs[i] as TOut));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
        // A partial batch waits for more items unless it is already full or we are closing.
        if (this.queue.length > 0 && this.queue.length < this.options.maxBatch && !this.closed) break;
      }
    } finally {
      this.running = false;
    }
    if (this.queue.length > 0) this.schedule();
  }
}
