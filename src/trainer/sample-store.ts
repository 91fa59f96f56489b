/**
 * The trainer's durable sample store: review items and decisions joined by item id, on local
 * disk. Every change is appended to a log and fsynced before `add` resolves (the consumer
 * commits its Kafka offsets only after that); the log is folded into a snapshot now and then.
 * Replaying a redelivered record changes nothing, so a restart after kill -9 neither loses nor
 * double-counts a sample.
 *
 * What comes in is not trusted: an item whose embedding is not a unit vector of the model's
 * dimension is refused, an item once stored keeps its first embedding (and, once decided,
 * everything), and decisions for items not seen yet wait in a buffer of their own, so a flood of
 * them only ever evicts each other.
 *
 * Files in `dir`: snapshot.jsonl (header line, then one entry a line; replaced atomically),
 * log-<generation>.jsonl (changes since that snapshot), split-salt (when none is configured),
 * lock (the owning process, kept fresh while it runs).
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, truncate, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ClipnError } from '../errors.js';
import { decisionFromJson, itemFromJson, itemToJson, sameDecision } from './sample-codec.js';
import { embeddingProblem, sameEmbedding, type RefusalReason, type SampleRefusal } from './sample-check.js';
import { joinSample, type JoinOptions } from './sample-join.js';
import { splitSalt } from './split.js';
import { takeLock } from './store-lock.js';
import type { Sample, StoreCounts, StoredDecision, StoredItem } from './types.js';

/** Options of {@link SampleStore.open}. */
export interface SampleStoreOptions {
  /** Folder of the store (created when missing). */
  readonly dir: string;
  /** Most items kept; undecided ones are dropped first, then the oldest. */
  readonly maxSamples: number;
  /** Most decisions kept whose item has not arrived (default 10 000); the oldest are dropped first. */
  readonly maxPendingDecisions?: number;
  /** Dimension of the model's embeddings: items of another are refused. */
  readonly embedDim: number;
  /** Key of the held-out split; null: a random one kept in `dir` (default null). */
  readonly splitSalt?: string | null;
  /** Unreviewed sampled captioned items count as ID pairs (default false: untrusted). */
  readonly trainOnSampled?: boolean;
  /** Told of each item refused while running (not while replaying the log). */
  readonly onRefused?: (refusal: SampleRefusal) => void;
  /** Log lines after which the log is folded into the snapshot; default 10 000 (or the entry count, if larger). */
  readonly compactAfter?: number;
}

/** How a run that reached the gate ended (the trigger counts new samples from the last one). */
export type RunMark = 'published' | 'refused';

interface Entry {
  item: StoredItem;
  decision?: StoredDecision;
  /** Sequence number of its last change. */
  seq: number;
}

// `retain`: the end of one add, where retention ran (replay runs it at the same points).
type LogEvent = { t: 'item'; item: StoredItem } | { t: 'decision'; decision: StoredDecision } | { t: 'run'; outcome: RunMark; through: number } | { t: 'retain' };

interface Marks {
  runThrough: number;
  publishedThrough: number;
  runs: number;
}

const SNAPSHOT = 'snapshot.jsonl';
const FORMAT = 'clipn-samples';

/** The store; one process at a time owns a folder (see the lock file). */
export class SampleStore {
  private readonly entries = new Map<string, Entry>();
  // Decisions whose item has not arrived, oldest first.
  private readonly pending = new Map<string, { decision: StoredDecision; seq: number }>();
  private salt = '';
  private seq = 0;
  private marks: Marks = { runThrough: 0, publishedThrough: 0, runs: 0 };
  private generation = 0;
  private logLines = 0;
  private log: FileHandle | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private lockTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: SampleStoreOptions) {}

  /** Opens (or creates) the store in `options.dir`, replaying snapshot and log. */
  static async open(options: SampleStoreOptions): Promise<SampleStore> {
    for (const [name, v] of [['maxSamples', options.maxSamples], ['maxPendingDecisions', options.maxPendingDecisions ?? 1], ['embedDim', options.embedDim]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new ClipnError('CONFIG_INVALID', `sample store ${name}: expected a whole number >= 1, got ${v}`);
    }
    await mkdir(options.dir, { recursive: true });
    const store = new SampleStore(options);
    store.lockTimer = await takeLock(options.dir);
    try {
      store.salt = await splitSalt(options.dir, options.splitSalt ?? null);
      await store.load();
    } catch (error) {
      clearInterval(store.lockTimer);
      await rm(join(options.dir, 'lock'), { force: true });
      throw error;
    }
    return store;
  }

  /** Sequence number of the latest change: a run trains on what was there up to it. */
  get lastSeq(): number {
    return this.seq;
  }

  /** Runs that reached the gate so far. */
  get runs(): number {
    return this.marks.runs;
  }

  /**
   * Applies items and decisions, appends what changed to the log and fsyncs it.
   * @returns how many entries changed (0 for pure redeliveries).
   */
  add(items: readonly StoredItem[], decisions: readonly StoredDecision[]): Promise<number> {
    return this.serial(async () => {
      const events: LogEvent[] = [];
      for (const item of items) if (this.applyItem(item, true)) events.push({ t: 'item', item });
      for (const decision of decisions) if (this.applyDecision(decision)) events.push({ t: 'decision', decision });
      this.enforceRetention();
      const changed = events.length;
      if (changed > 0) events.push({ t: 'retain' });
      await this.append(events);
      return changed;
    });
  }

  /** Records a run that reached the gate, trained on the changes up to `through`. */
  markRun(outcome: RunMark, through: number): Promise<void> {
    return this.serial(async () => {
      const event: LogEvent = { t: 'run', outcome, through };
      this.applyRun(event);
      await this.append([event]);
    });
  }

  /** Every joined sample, in the order their items were first stored. */
  samples(options: Pick<JoinOptions, 'template' | 'heldOutShare'>): Sample[] {
    const join = { ...options, salt: this.salt, trainOnSampled: this.options.trainOnSampled === true };
    const out: Sample[] = [];
    for (const e of this.entries.values()) {
      const s = joinSample(e.item, e.decision, join);
      if (s !== null) out.push(s);
    }
    return out;
  }

  /** Samples, pending halves and new-sample counts. */
  counts(): StoreCounts {
    let samples = 0;
    let pendingItems = 0;
    const pendingDecisions = this.pending.size;
    let newSinceRun = 0;
    let newSincePublished = 0;
    for (const e of this.entries.values()) {
      if (e.decision === undefined && !(this.options.trainOnSampled === true && e.item.sampled && e.item.caption !== null)) {
        pendingItems++;
        continue;
      }
      samples++;
      if (e.seq > this.marks.runThrough) newSinceRun++;
      if (e.seq > this.marks.publishedThrough) newSincePublished++;
    }
    return { samples, pendingItems, pendingDecisions, newSinceRun, newSincePublished };
  }

  /** Folds the log into a new snapshot (atomically) and starts an empty log. */
  compact(): Promise<void> {
    return this.serial(() => this.compactNow());
  }

  /** Closes the log and releases the folder. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.lockTimer);
    await this.queue.catch(() => undefined);
    await this.log?.close();
    this.log = null;
    await rm(join(this.options.dir, 'lock'), { force: true });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClipnError('INTERNAL', 'sample store is closed'));
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private applyItem(item: StoredItem, live: boolean): boolean {
    const problem = embeddingProblem(item.embedding, this.options.embedDim);
    if (problem !== null) return this.refuse(item.id, problem.reason, problem.detail, live);
    const e = this.entries.get(item.id);
    if (e !== undefined) {
      // The reviewer decided on the first embedding: another one under that id is a different image.
      if (!sameEmbedding(e.item.embedding, item.embedding)) return this.refuse(item.id, 'replaced', 'an item with this id and another embedding is already stored', live);
      if (e.decision !== undefined || e.item.createdAt >= item.createdAt) return false;
      e.item = item;
      e.seq = ++this.seq;
      return true;
    }
    const waiting = this.pending.get(item.id);
    this.pending.delete(item.id);
    this.entries.set(item.id, { item, ...(waiting ? { decision: waiting.decision } : {}), seq: ++this.seq });
    return true;
  }

  private applyDecision(decision: StoredDecision): boolean {
    const e = this.entries.get(decision.itemId) ?? this.pending.get(decision.itemId);
    const old = e?.decision;
    // A later decision replaces an earlier one; an older or repeated one changes nothing.
    if (old !== undefined && (old.decidedAt > decision.decidedAt || sameDecision(old, decision))) return false;
    // Updated in place: the maps keep first-insertion order, which retention drops from.
    if (e === undefined) this.pending.set(decision.itemId, { decision, seq: ++this.seq });
    else Object.assign(e, { decision, seq: ++this.seq });
    return true;
  }

  private refuse(id: string, reason: RefusalReason, detail: string, live: boolean): false {
    if (live) this.options.onRefused?.({ id, reason, detail });
    return false;
  }

  private applyRun(event: Extract<LogEvent, { t: 'run' }>): void {
    this.marks = {
      runThrough: Math.max(this.marks.runThrough, event.through),
      publishedThrough: event.outcome === 'published' ? Math.max(this.marks.publishedThrough, event.through) : this.marks.publishedThrough,
      runs: this.marks.runs + 1,
    };
  }

  private enforceRetention(): void {
    const maxPending = this.options.maxPendingDecisions ?? 10_000;
    for (const id of this.pending.keys()) {
      if (this.pending.size <= maxPending) break;
      this.pending.delete(id);
    }
    // Items nobody decided on go first; decided samples only when those are not enough.
    for (const undecidedOnly of [true, false]) {
      if (this.entries.size <= this.options.maxSamples) return;
      for (const [id, e] of this.entries) {
        if (this.entries.size <= this.options.maxSamples) return;
        if (!undecidedOnly || e.decision === undefined) this.entries.delete(id);
      }
    }
  }

  private async append(events: readonly LogEvent[]): Promise<void> {
    if (events.length === 0) return;
    const text = events.map((e) => JSON.stringify(e.t === 'item' ? { t: 'item', item: itemToJson(e.item) } : e) + '\n').join('');
    await this.log!.write(text);
    await this.log!.datasync();
    this.logLines += events.length;
    if (this.logLines >= Math.max(this.options.compactAfter ?? 10_000, this.entries.size + this.pending.size)) await this.compactNow();
  }

  private replay(event: LogEvent): void {
    if (event.t === 'item') this.applyItem(event.item, false);
    else if (event.t === 'decision') this.applyDecision(event.decision);
    else if (event.t === 'run') this.applyRun(event);
    else this.enforceRetention();
  }

  private async load(): Promise<void> {
    const dir = this.options.dir;
    const snapshot = await readFile(join(dir, SNAPSHOT), 'utf8').catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (snapshot !== null) this.readSnapshot(snapshot);
    const logPath = join(dir, `log-${this.generation}.jsonl`);
    const raw = await readFile(logPath).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (raw !== null) {
      const { events, goodBytes } = parseLog(raw, logPath);
      for (const e of events) this.replay(e);
      this.enforceRetention();
      this.logLines = events.length;
      // A line cut short by a crash mid-write was never fsynced, so never acknowledged: drop it.
      if (goodBytes < raw.length) await truncate(logPath, goodBytes);
    }
    for (const name of await readdir(dir)) {
      const m = /^log-(\d+)\.jsonl$/.exec(name);
      if ((m && Number(m[1]) !== this.generation) || name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
    }
    this.log = await open(logPath, 'a');
  }

  private readSnapshot(text: string): void {
    const lines = text.split('\n').filter((l) => l.length > 0);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    } catch (error) {
      throw new ClipnError('TRAINER_STORE_CORRUPT', `${join(this.options.dir, SNAPSHOT)}: expected a JSON header line, got ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, { cause: error });
    }
    if (header.format !== FORMAT || header.version !== 1 || lines.length - 1 !== header.entries) {
      throw new ClipnError('TRAINER_STORE_CORRUPT', `${join(this.options.dir, SNAPSHOT)}: expected a ${FORMAT} v1 snapshot of ${String(header.entries)} entries, got format ${String(header.format)} v${String(header.version)} with ${lines.length - 1}`);
    }
    this.generation = header.generation as number;
    this.seq = header.seq as number;
    this.marks = header.marks as Marks;
    for (const line of lines.slice(1)) {
      const o = JSON.parse(line) as { id: string; seq: number; item?: unknown; decision?: unknown };
      const decision = o.decision === undefined ? undefined : decisionFromJson(o.decision);
      if (o.item === undefined) {
        if (decision !== undefined) this.pending.set(o.id, { decision, seq: o.seq });
        continue;
      }
      const item = itemFromJson(o.item);
      // Written before items were checked on the way in: left out, or one bad vector fails every run.
      if (embeddingProblem(item.embedding, this.options.embedDim) !== null) continue;
      this.entries.set(o.id, { item, ...(decision ? { decision } : {}), seq: o.seq });
    }
  }

  private async compactNow(): Promise<void> {
    const dir = this.options.dir;
    const next = this.generation + 1;
    const header = { format: FORMAT, version: 1, generation: next, seq: this.seq, marks: this.marks, entries: this.entries.size + this.pending.size };
    const lines = [JSON.stringify(header)];
    for (const [id, e] of this.entries) lines.push(JSON.stringify({ id, seq: e.seq, item: itemToJson(e.item), ...(e.decision ? { decision: e.decision } : {}) }));
    for (const [id, p] of this.pending) lines.push(JSON.stringify({ id, seq: p.seq, decision: p.decision }));
    const tmp = join(dir, `${SNAPSHOT}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.write(lines.join('\n') + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    // Create the next (empty) log before the snapshot names it, then switch atomically.
    await writeFile(join(dir, `log-${next}.jsonl`), '', { flag: 'w' });
    await rename(tmp, join(dir, SNAPSHOT));
    syncDir(dir);
    await this.log?.close();
    await rm(join(dir, `log-${this.generation}.jsonl`), { force: true });
    this.generation = next;
    this.logLines = 0;
    this.log = await open(join(dir, `log-${next}.jsonl`), 'a');
  }
}

function parseLog(raw: Buffer, path: string): { events: LogEvent[]; goodBytes: number } {
  const events: LogEvent[] = [];
  let start = 0;
  let goodBytes = 0;
  for (;;) {
    const end = raw.indexOf(0x0a, start);
    if (end < 0) break; // no newline: a partial last line
    const line = raw.subarray(start, end).toString('utf8');
    let event: LogEvent;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (o.t === 'item') event = { t: 'item', item: itemFromJson(o.item) };
      else if (o.t === 'decision') event = { t: 'decision', decision: decisionFromJson(o.decision) };
      else if (o.t === 'retain') event = { t: 'retain' };
      else if (o.t === 'run' && (o.outcome === 'published' || o.outcome === 'refused') && typeof o.through === 'number') event = { t: 'run', outcome: o.outcome, through: o.through };
      else throw new Error(`unknown event ${JSON.stringify(o.t)}`);
    } catch (error) {
      if (raw.indexOf(0x0a, end + 1) < 0 && end + 1 >= raw.length) break; // the last line, cut short
      throw new ClipnError('TRAINER_STORE_CORRUPT', `${path}: line ${events.length + 1} is not a store event: ${(error as Error).message}`, { cause: error });
    }
    events.push(event);
    start = end + 1;
    goodBytes = start;
  }
  return { events, goodBytes };
}

function syncDir(dir: string): void {
  // Makes the rename itself durable (the directory entry), not only the file's contents.
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
