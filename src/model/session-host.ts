/**
 * Where ONNX Runtime sessions run. onnxruntime-node runs `InferenceSession.run` synchronously on
 * the calling thread, so on the main thread a batch (1.6-1.8 s for ViT-B-16 x 8 on 2 cores)
 * stops decoding, Kafka heartbeats and HTTP until it ends, and nothing queues for the next batch
 * meanwhile. The worker host keeps every session of one set of encoders in one worker thread
 * (runs stay one at a time, as on one core set they should) and answers with transferred buffers.
 */
import { Worker } from 'node:worker_threads';
import { ClipnError, type ErrorCode } from '../errors.js';
import type { InferenceThread } from './execution-providers.js';
import { createSession, createSessionFromBytes, type Feed, type OnnxOptions, type OnnxSession, type Output } from './onnx.js';

/**
 * A graph to load: a file, or bytes already read and verified (`name` labels them in errors).
 * The host takes ownership of the bytes: a worker host moves their buffer to its thread instead
 * of copying a graph of hundreds of MB, which may leave the caller's array empty (detached).
 */
export type GraphSource = { path: string } | { bytes: Uint8Array; name: string };

/** Creates sessions on one thread and owns that thread. */
export interface SessionHost {
  readonly thread: InferenceThread;
  create(source: GraphSource, options: OnnxOptions): Promise<OnnxSession>;
  /**
   * Settles when the host stopped on its own (the worker thread died): every pending and later
   * run fails with this error, so the process should stop. Never settles for the main thread.
   */
  readonly lost: Promise<ClipnError>;
  /**
   * Ends the thread (sessions not released are released with it): pending runs fail with
   * INTERRUPTED at once, and the promise settles when the thread has finished the run it is in.
   * Idempotent.
   */
  close(): Promise<void>;
}

/** A host for `thread`. */
export function createSessionHost(thread: InferenceThread): SessionHost {
  return thread === 'worker' ? new WorkerHost() : mainHost();
}

function mainHost(): SessionHost {
  return {
    thread: 'main',
    create: (source, options) => ('path' in source ? createSession(source.path, options) : createSessionFromBytes(source.bytes, source.name, options)),
    lost: new Promise(() => undefined),
    close: async () => undefined,
  };
}

/** A request to the worker (onnx-worker.ts). */
export type HostRequest =
  | { id: number; op: 'create'; source: string | Uint8Array; name: string; options: OnnxOptions }
  | { id: number; op: 'run'; session: number; feeds: Record<string, Feed> }
  | { id: number; op: 'release'; session: number }
  /** End once the runs in flight are done (sessions released with it). */
  | { id: number; op: 'close' };

/** The worker's answer to request `id`. */
export type HostReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code: ErrorCode; message: string; retriable: boolean; details: Record<string, unknown> } };

type Pending = { resolve: (value: unknown) => void; reject: (error: ClipnError) => void };
type Created = Pick<OnnxSession, 'provider' | 'inputNames' | 'outputNames' | 'inputShapes'> & { handle: number };
type Request = HostRequest extends infer R ? (R extends HostRequest ? Omit<R, 'id'> : never) : never;

/**
 * The worker entry beside this module: .js when compiled; .ts under tsx, which the worker must
 * then load too (a worker inherits `--import tsx` but not a loader registered from code, as
 * bin/clipn.js does). Otherwise the worker inherits the process's options.
 */
function workerEntry(): { url: URL; execArgv?: string[] } {
  const typescript = import.meta.url.endsWith('.ts');
  const url = new URL(`./onnx-worker.${typescript ? 'ts' : 'js'}`, import.meta.url);
  const inherited = process.execArgv.some((a) => a.includes('tsx'));
  return typescript && !inherited ? { url, execArgv: ['--import', import.meta.resolve('tsx')] } : { url };
}

/** The bytes in an array that owns its whole buffer, so the buffer can be transferred: the same array when it does, else a copy (a view into a larger or shared buffer). */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  const whole = bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? bytes : bytes.slice();
}

class WorkerHost implements SessionHost {
  readonly thread = 'worker' as const;
  readonly lost: Promise<ClipnError>;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private failure: ClipnError | null = null;
  /** Set by close(): settles when the worker has ended. */
  private closed: Promise<void> | null = null;

  constructor() {
    const { url, execArgv } = workerEntry();
    this.worker = new Worker(url, { ...(execArgv ? { execArgv } : {}), name: 'clipn-inference' });
    // An idle worker does not keep the process alive; a pending request does (see call).
    this.worker.unref();
    let lose!: (error: ClipnError) => void;
    this.lost = new Promise((resolve) => (lose = resolve));
    let reason = '';
    this.worker.on('message', (reply: HostReply) => this.answer(reply));
    this.worker.on('error', (error) => (reason = `: ${error.message}`));
    this.worker.on('exit', (exitCode) => {
      const error = this.closing
        ? new ClipnError('INTERRUPTED', 'the inference worker was closed before the run ended')
        : new ClipnError('INFERENCE_FAILED', `the inference worker thread stopped (exit code ${exitCode})${reason}`, { retriable: false, details: { exitCode } });
      this.failure = error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
      if (!this.closing) lose(error);
    });
  }

  async create(source: GraphSource, options: OnnxOptions): Promise<OnnxSession> {
    const path = 'path' in source ? source.path : source.name;
    if ('bytes' in source && source.bytes.byteLength === 0) {
      throw new ClipnError('MODEL_LOAD_FAILED', `${path}: expected the graph's bytes, got 0 bytes (bytes handed to the inference worker once are moved there and cannot be handed again)`);
    }
    const bytes = 'path' in source ? null : ownBuffer(source.bytes);
    const request = { op: 'create' as const, source: bytes ?? path, name: path, options };
    const c = (await this.call(request, bytes === null ? [] : [bytes.buffer as ArrayBuffer])) as Created;
    let released = false;
    return {
      path,
      provider: c.provider,
      inputNames: c.inputNames,
      outputNames: c.outputNames,
      inputShapes: c.inputShapes,
      run: async (feeds) => {
        // Own copies of the inputs (a feed is often a view into a larger batch) to transfer.
        const copies: Record<string, Feed> = {};
        for (const [name, f] of Object.entries(feeds)) copies[name] = { ...f, data: f.data.slice(), dims: [...f.dims] } as Feed;
        const transfer = Object.values(copies).map((f) => f.data.buffer as ArrayBuffer);
        return (await this.call({ op: 'run', session: c.handle, feeds: copies }, transfer)) as Record<string, Output>;
      },
      release: async () => {
        if (released || this.failure !== null || this.closing) return;
        released = true;
        await this.call({ op: 'release', session: c.handle });
      },
    };
  }

  close(): Promise<void> {
    if (this.closed === null) {
      const interrupted = new ClipnError('INTERRUPTED', 'the inference worker was closed before the run ended');
      for (const p of this.pending.values()) p.reject(interrupted);
      this.pending.clear();
      // Not Worker.terminate(): onnxruntime-node aborts the process if its thread is stopped mid-run.
      this.closed = new Promise((resolve) => {
        if (this.failure !== null) return resolve(); // already exited
        this.worker.once('exit', () => resolve());
        this.worker.ref();
        this.worker.postMessage({ id: 0, op: 'close' } satisfies HostRequest);
      });
    }
    return this.closed;
  }

  private get closing(): boolean {
    return this.closed !== null;
  }

  private call(request: Request, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new ClipnError('INTERRUPTED', 'the inference worker is closed'));
    const id = this.nextId++;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        this.worker.postMessage({ ...request, id }, transfer);
      } catch (error) {
        // Nothing was sent: no answer will come, so the request must not keep the worker referenced.
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
        reject(new ClipnError('INFERENCE_FAILED', `the request could not be handed to the inference worker: ${(error as Error).message}`, { cause: error }));
      }
    });
  }

  private answer(reply: HostReply): void {
    const p = this.pending.get(reply.id);
    if (p === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.worker.unref();
    if (reply.ok) p.resolve(reply.value);
    else p.reject(new ClipnError(reply.error.code, reply.error.message, { retriable: reply.error.retriable, details: reply.error.details }));
  }
}
