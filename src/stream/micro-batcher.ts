/**
 * Continuous micro-batching of work items from every partition, one batch running at a time.
 * When the encoder is idle, the batcher runs what is queued now (after one turn of the event
 * loop, so items submitted together, such as one fetched chunk, share a batch); while a batch
 * runs, newly submitted items accumulate and the next batch takes up to `maxBatch` of them the
 * moment the run ends. The encoder never idles while items wait, and under load batches fill by
 * themselves. `maxWaitMs` is only an upper bound on how long an item waits for an idle encoder:
 * a batch never waits for more items. Decoding happens before submit, so the next batch decodes
 * while this one runs.
 */
import { ClipnError } from '../errors.js';

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most items in one batch (>= 1). */
  maxBatch: number;
  /** Longest an item waits while the encoder is idle (>= 0); the batcher does not wait this long on purpose. */
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
  private wake: NodeJS.Immediate | undefined;
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

  /** Whether a batch is running now. */
  get busy(): boolean {
    return this.running;
  }

  /** Queues one item; resolves with its output once its batch has run. */
  submit(item: TIn): Promise<TOut> {
    if (this.closed) return Promise.reject(new ClipnError('SHUTDOWN_TIMEOUT', 'the batcher is closed'));
    return new Promise<TOut>((resolve, reject) => {
      this.queue.push({ item, enqueuedAt: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Runs what is queued now, without waiting for the event-loop turn. */
  flush(): void {
    this.clearWake();
    void this.drain();
  }

  /** Refuses new items; queued ones still run. */
  close(): void {
    this.closed = true;
    this.flush();
  }

  private schedule(): void {
    if (this.running) return; // the running batch's end starts the next one
    if (this.queue.length >= this.options.maxBatch) {
      this.flush();
      return;
    }
    if (this.wake === undefined) {
      // One event-loop turn lets items submitted together join; the timer is the maxWaitMs bound
      // (it fires first only when the event loop is blocked longer than maxWaitMs).
      this.wake = setImmediate(() => this.flush());
      const oldest = this.queue[0]?.enqueuedAt ?? performance.now();
      this.timer = setTimeout(() => this.flush(), Math.max(0, oldest + this.options.maxWaitMs - performance.now()));
    }
  }

  private clearWake(): void {
    if (this.wake !== undefined) clearImmediate(this.wake);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.wake = undefined;
    this.timer = undefined;
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      // Back to back: whatever queued during a run forms the next batch at once.
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
      }
    } finally {
      this.running = false;
    }
  }
}
