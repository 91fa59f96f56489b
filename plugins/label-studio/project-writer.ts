/**
 * One project's task writer: items are looked up and imported one batch at a time, so that a
 * project sees one write at a time (Label Studio on SQLite slows to minutes per request under
 * parallel imports, then drops predictions), and an import with no known outcome is not repeated
 * until it had `ambiguityMs` to complete. See queue.ts for the queue it serves.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReviewItem } from '../../src/codec/index.js';
import { LabelStudioError } from './client.js';
import { taskOf, TAGS, type Prediction } from './labeling.js';
import type { ProjectState, ReviewQueue, TaskJson } from './queue.js';

/** Whether a failed request may still complete in Label Studio (it was sent, no answer came back). */
function ambiguous(error: unknown): boolean {
  if (!(error instanceof LabelStudioError) || error.status !== null) return false;
  const cause = (error.cause as { cause?: { code?: string } } | undefined)?.cause?.code;
  // Refused or unresolvable: the request never reached Label Studio.
  return !(cause === 'ECONNREFUSED' || cause === 'ENOTFOUND' || cause === 'EAI_AGAIN' || /\bstopped\b/.test(error.message));
}

interface Entry {
  item: ReviewItem;
  task: ReturnType<typeof taskOf>;
  bytes: number;
  resolve(id: number): void;
  reject(error: unknown): void;
}

/**
 * Writes one project's tasks one batch at a time: a batch looks its items up (one request), keeps
 * the oldest task of an item that has several (removing the others, unless annotated), puts back a
 * missing prediction, and imports the items Label Studio does not have (one request).
 */
export class ProjectWriter {
  private waiting: Entry[] = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly queue: ReviewQueue,
    private readonly state: ProjectState,
  ) {}

  /** Resolves with the item's task id once it exists. */
  add(item: ReviewItem): Promise<number> {
    const task = taskOf(item, this.queue.options.maxInlineBytes);
    // A prediction naming a class the configuration does not offer (an item of an older label set version) keeps its notes only.
    for (const p of task.predictions) p.result = p.result.filter((r) => r.from_name !== TAGS.decision || this.state.labels.includes(item.label));
    return new Promise<number>((resolve, reject) => {
      this.waiting.push({ item, task, bytes: JSON.stringify(task).length, resolve, reject });
      this.running ??= this.drain().finally(() => (this.running = null));
    });
  }

  private async drain(): Promise<void> {
    const { maxBatch, maxBatchBytes } = this.queue.options;
    while (this.waiting.length > 0) {
      let n = 0;
      let bytes = 0;
      while (n < this.waiting.length && n < maxBatch && (n === 0 || bytes + this.waiting[n]!.bytes <= maxBatchBytes)) bytes += this.waiting[n++]!.bytes;
      const batch = this.waiting.splice(0, n);
      try {
        await this.write(batch);
      } catch (error) {
        for (const e of batch) e.reject(error);
      }
    }
  }

  private async write(batch: Entry[]): Promise<void> {
    const { logger, options } = this.queue;
    const projectId = this.state.id;
    // Several deliveries of one item in a batch share its outcome.
    const byItem = new Map<string, Entry[]>();
    for (const e of batch) byItem.set(e.item.id, [...(byItem.get(e.item.id) ?? []), e]);
    const settle = (itemId: string, id: number): void => {
      this.state.tasks.set(itemId, id);
      for (const e of byItem.get(itemId) ?? []) e.resolve(id);
      byItem.delete(itemId);
    };

    const found = await this.queue.findTasks(projectId, [...byItem.keys()]);
    for (const [itemId, tasks] of found) {
      const keep = tasks[0]!;
      await this.removeDuplicates(itemId, tasks);
      if ((keep.total_predictions ?? 1) === 0) await this.addPrediction(keep.id, byItem.get(itemId)![0]!.task.predictions);
      this.queue.unsure.delete(itemId);
      settle(itemId, keep.id);
    }

    // An import that may still complete elsewhere: not again until it had its time.
    const now = Date.now();
    for (const itemId of [...byItem.keys()]) {
      const since = this.queue.unsure.get(itemId);
      if (since !== undefined && now - since < options.ambiguityMs) {
        const error = new LabelStudioError(`item ${itemId}: an earlier import has no known outcome yet; looking again before importing (${Math.round((options.ambiguityMs - (now - since)) / 1000)} s left)`, { status: null, retriable: true });
        for (const e of byItem.get(itemId)!) e.reject(error);
        byItem.delete(itemId);
      }
    }
    const todo = [...byItem.values()].map((entries) => entries[0]!);
    if (todo.length === 0) return;
    try {
      await this.importAll(todo, settle);
    } catch (error) {
      if (todo.length > 1 && error instanceof LabelStudioError && !error.retriable) {
        // One bad task fails the whole request: find it by importing one at a time.
        logger.warn({ project: projectId, items: todo.length, err: error.message }, 'label-studio: a batch import was refused; importing its items one at a time');
        for (const e of todo) {
          try {
            await this.importAll([e], settle);
          } catch (one) {
            for (const x of byItem.get(e.item.id) ?? []) x.reject(one);
          }
        }
        return;
      }
      throw error;
    }
  }

  private async importAll(entries: Entry[], settle: (itemId: string, id: number) => void): Promise<void> {
    const { client, logger, options } = this.queue;
    const projectId = this.state.id;
    const sent = Date.now();
    let answer: { task_ids?: number[]; prediction_count?: number | null } | null;
    try {
      answer = await client.request({ method: 'POST', path: `/api/projects/${projectId}/import`, query: { return_task_ids: true }, body: entries.map((e) => e.task) });
    } catch (error) {
      if (ambiguous(error)) for (const e of entries) this.queue.unsure.set(e.item.id, sent);
      throw error;
    }
    const ids = answer?.task_ids ?? [];
    if (ids.length !== entries.length) throw new LabelStudioError(`import into project ${projectId}: expected ${entries.length} task ids, got ${JSON.stringify(answer).slice(0, 200)}`, { status: null, retriable: true });
    const wanted = entries.reduce((n, e) => n + e.task.predictions.length, 0);
    if ((answer?.prediction_count ?? wanted) < wanted) {
      // Label Studio on SQLite drops the predictions of an import it retried after a lock: put them back.
      logger.warn({ project: projectId, tasks: ids.length, predictions: answer?.prediction_count, wanted }, 'label-studio: the import lost predictions; adding them');
      for (const [i, e] of entries.entries()) {
        const have = await client.request<unknown[]>({ method: 'GET', path: '/api/predictions/', query: { task: ids[i] } });
        if ((have ?? []).length === 0) await this.addPrediction(ids[i]!, e.task.predictions);
      }
    }
    for (const [i, e] of entries.entries()) {
      const hadDoubt = this.queue.unsure.has(e.item.id);
      this.queue.unsure.delete(e.item.id);
      settle(e.item.id, ids[i]!);
      // This import followed one with no known outcome: if that one completes after all, remove its task.
      if (hadDoubt) void this.recheckLater(e.item.id, options.ambiguityMs);
    }
    logger.debug({ project: projectId, tasks: ids.length }, 'label-studio: tasks imported');
  }

  private async addPrediction(taskId: number, predictions: Prediction[]): Promise<void> {
    for (const p of predictions) await this.queue.client.request({ method: 'POST', path: '/api/predictions/', body: { task: taskId, ...p } });
  }

  /** Removes the tasks of an item beyond its oldest, unless a reviewer annotated them. */
  private async removeDuplicates(itemId: string, tasks: TaskJson[]): Promise<void> {
    for (const extra of tasks.slice(1)) {
      if ((extra.total_annotations ?? 0) > 0) {
        this.queue.logger.warn({ item: itemId, kept: tasks[0]!.id, task: extra.id }, 'label-studio: an item has a second, annotated task; leaving it');
        continue;
      }
      await this.queue.client.request({ method: 'DELETE', path: `/api/tasks/${extra.id}/` }).catch((error: unknown) => {
        if (!(error instanceof LabelStudioError && error.status === 404)) throw error;
      });
      this.queue.logger.warn({ item: itemId, kept: tasks[0]!.id, removed: extra.id }, 'label-studio: removed a second task of an item');
    }
  }

  private async recheckLater(itemId: string, ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.queue.signal, ref: false }).catch(() => undefined);
    if (this.queue.signal.aborted) return;
    try {
      const tasks = (await this.queue.findTasks(this.state.id, [itemId])).get(itemId) ?? [];
      await this.removeDuplicates(itemId, tasks);
      if (tasks[0]) this.state.tasks.set(itemId, tasks[0].id);
    } catch (error) {
      this.queue.logger.warn({ item: itemId, err: (error as Error).message }, 'label-studio: checking an item for a second task failed (the next delivery or restart looks again)');
    }
  }
}
