/**
 * The review queue in Label Studio: one project per label set (found by its title, created when
 * missing, its labelling configuration replaced when a newer label set version arrives), and one
 * task per review item.
 *
 * Exactly one task per item, from Label Studio itself: the index item id -> task id is the
 * project's tasks with their data.item_id (listed when the project is first used), and every item
 * not in it is looked up (data.item_id in a list) right before it is imported, so a re-delivered
 * item, one another replica delivered, or one whose import answer was lost makes no second task.
 * Writes to a project are serialised and batched (project-writer.ts; one lookup and one import per batch): Label
 * Studio on SQLite slows to minutes per request when imports run in parallel, and then drops
 * predictions (a retried import loses them), which a batch checks and puts back. An import whose
 * outcome is unknown (no answer in time, connection lost) may still complete: the item is not
 * imported again until it has been looked up for `ambiguityMs`, and a later duplicate (without
 * annotations) is removed when seen, the oldest task kept.
 */
import type { ReviewItem } from '../../src/codec/index.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { LabelStudioError, retrying, type LabelStudioClient, type RetryPolicy } from './client.js';
import { configVersion, labelingConfig, labelsOfConfig, type LabelSetRef } from './labeling.js';
import { ProjectWriter } from './project-writer.js';

/** A project as the API returns it (the fields read here). */
interface ProjectJson {
  id: number;
  title: string;
  label_config: string;
}

/** A task as the tasks list returns it (the fields read here). */
export interface TaskJson {
  id: number;
  data: Record<string, unknown>;
  annotations?: unknown[];
  updated_at?: string;
  total_predictions?: number;
  total_annotations?: number;
}

export interface QueueOptions {
  /** Project title; {labelSet} is replaced by the label set id. */
  projectTitle: string;
  /** Project description. */
  projectDescription: string;
  maxInlineBytes: number;
  /** Tasks per page when listing a project's tasks. */
  pageSize: number;
  /** Most items in one import request, and most bytes of task JSON in one. */
  maxBatch: number;
  maxBatchBytes: number;
  /** How long an import with no known outcome may still complete in Label Studio (ms). */
  ambiguityMs: number;
  retry: RetryPolicy;
}

/** One label set's project and what is known of its tasks. */
export interface ProjectState {
  id: number;
  labelSetId: string;
  /** The label set version its labelling configuration was made for (0: not made by this plugin). */
  version: number;
  labels: string[];
  /** item id -> task id, for the tasks known to exist. */
  readonly tasks: Map<string, number>;
  /** The serialised, batched writer of this project. */
  writer: ProjectWriter;
  /** A labelling configuration update in progress. */
  updating: Promise<void> | null;
}

const FILTER_ITEM = 'filter:tasks:data.item_id';

export class ReviewQueue {
  // label set id -> its project (a promise, so concurrent deliveries share one lookup).
  private readonly projects = new Map<string, Promise<ProjectState>>();
  // item id -> the delivery in progress (a re-delivery joins it).
  private readonly inFlight = new Map<string, Promise<number>>();
  // item id -> when an import of it with no known outcome was sent.
  readonly unsure = new Map<string, number>();

  constructor(
    readonly client: LabelStudioClient,
    readonly options: QueueOptions,
    readonly logger: Logger,
    readonly signal: AbortSignal,
  ) {}

  /** The title of a label set's project. */
  titleOf(labelSetId: string): string {
    return this.options.projectTitle.replaceAll('{labelSet}', labelSetId);
  }

  /** Projects known so far (label set id -> state). */
  async known(): Promise<ProjectState[]> {
    const out: ProjectState[] = [];
    for (const p of this.projects.values()) {
      const state = await p.catch(() => null);
      if (state) out.push(state);
    }
    return out;
  }

  /**
   * Makes sure the item has exactly one task; resolves with its id once Label Studio has it.
   * Retries retriable failures for up to retry.retryForMs, looking the item up again before each
   * new try; then throws (retriable), and the caller's own retry starts over the same way.
   */
  deliver(item: ReviewItem): Promise<number> {
    const running = this.inFlight.get(item.id);
    if (running) return running;
    const p = retrying(() => this.once(item), this.options.retry, this.signal, (error, attempt, waitMs) => {
      // One line per item at the first failure and then every 5th: an outage does not flood the log.
      if (attempt === 1 || attempt % 5 === 0) this.logger.warn({ item: item.id, attempt, waitMs, err: error.message }, 'label-studio: delivering a review item failed; retrying');
    }).finally(() => this.inFlight.delete(item.id));
    this.inFlight.set(item.id, p);
    return p;
  }

  private async once(item: ReviewItem): Promise<number> {
    const project = await this.project(item.labelSet);
    const known = project.tasks.get(item.id);
    if (known !== undefined) return known;
    return project.writer.add(item);
  }

  /**
   * The tasks of these items in a project, by data.item_id: item id -> its tasks (oldest first),
   * with their prediction and annotation counts.
   */
  async findTasks(projectId: number, itemIds: readonly string[]): Promise<Map<string, TaskJson[]>> {
    const out = new Map<string, TaskJson[]>();
    if (itemIds.length === 0) return out;
    const query = { filters: { conjunction: 'and', items: [{ filter: FILTER_ITEM, operator: 'in_list', type: 'String', value: [...itemIds] }] }, ordering: ['tasks:id'] };
    for (let page = 1; ; page++) {
      const answer = await this.client.request<{ tasks?: TaskJson[]; total?: number }>({ method: 'GET', path: '/api/tasks', query: { project: projectId, page, page_size: 100, query: JSON.stringify(query) } }).catch((error: unknown) => {
        if (error instanceof LabelStudioError && error.status === 404 && page > 1) return null;
        throw error;
      });
      const tasks = answer?.tasks ?? [];
      for (const t of tasks) {
        const id = t.data?.item_id;
        if (typeof id !== 'string' || !itemIds.includes(id)) continue;
        const list = out.get(id) ?? [];
        list.push(t);
        out.set(id, list);
      }
      if (tasks.length < 100) break;
    }
    for (const list of out.values()) list.sort((a, b) => a.id - b.id);
    return out;
  }

  /** Every task of a project, page by page (data and, with all, annotations). */
  async *tasks(projectId: number, options: { all?: boolean; filters?: unknown[] } = {}): AsyncGenerator<TaskJson> {
    const query = options.filters ? { filters: { conjunction: 'and', items: options.filters }, ordering: ['tasks:id'] } : { ordering: ['tasks:id'] };
    for (let page = 1; ; page++) {
      let answer: { tasks?: TaskJson[]; total?: number } | null;
      try {
        answer = await this.client.request({
          method: 'GET',
          path: '/api/tasks',
          query: { project: projectId, page, page_size: this.options.pageSize, fields: options.all ? 'all' : undefined, query: JSON.stringify(query) },
        });
      } catch (error) {
        // Past the last page Label Studio answers 404.
        if (error instanceof LabelStudioError && error.status === 404 && page > 1) return;
        throw error;
      }
      const tasks = answer?.tasks ?? [];
      for (const t of tasks) yield t;
      if (tasks.length < this.options.pageSize || (answer?.total !== undefined && page * this.options.pageSize >= answer.total)) return;
    }
  }

  /** The project of a label set, its configuration brought up to the item's label set version. */
  async project(labelSet: LabelSetRef): Promise<ProjectState> {
    let p = this.projects.get(labelSet.id);
    if (!p) {
      p = this.openProject(labelSet);
      this.projects.set(labelSet.id, p);
      // A failure is not remembered: the next delivery looks again.
      p.catch(() => this.projects.get(labelSet.id) === p && this.projects.delete(labelSet.id));
    }
    const state = await p;
    // One update at a time; a newer version than the one being written waits for it, then goes.
    while (labelSet.version > state.version) {
      if (state.updating) await state.updating.catch(() => undefined);
      else {
        state.updating = this.updateConfig(state, labelSet).finally(() => (state.updating = null));
        await state.updating;
      }
    }
    return state;
  }

  /** Finds (or creates) the project by its title and indexes its tasks. */
  private async openProject(labelSet: LabelSetRef): Promise<ProjectState> {
    const title = this.titleOf(labelSet.id);
    let project = await this.findProject(title);
    if (project === null) project = await this.createProject(title, labelSet);
    const made = configVersion(project.label_config);
    const state: ProjectState = {
      id: project.id,
      labelSetId: labelSet.id,
      version: made?.id === labelSet.id ? made.version : 0,
      labels: labelsOfConfig(project.label_config) ?? [],
      tasks: new Map(),
      updating: null,
      writer: null as unknown as ProjectWriter,
    };
    state.writer = new ProjectWriter(this, state);
    if (state.version === 0) this.logger.warn({ project: project.id, title }, 'label-studio: the project has a labelling configuration this plugin did not make; replacing it');
    let n = 0;
    for await (const t of this.tasks(project.id)) {
      const itemId = t.data?.item_id;
      if (typeof itemId === 'string' && !state.tasks.has(itemId)) state.tasks.set(itemId, t.id);
      n++;
    }
    this.logger.info({ project: project.id, title, tasks: n, items: state.tasks.size, labelSetVersion: state.version }, 'label-studio: project opened');
    return state;
  }

  private async findProject(title: string): Promise<ProjectJson | null> {
    const all: ProjectJson[] = [];
    for (let page = 1; ; page++) {
      let answer: { results?: ProjectJson[]; next?: string | null } | ProjectJson[] | null;
      try {
        answer = await this.client.request({ method: 'GET', path: '/api/projects', query: { title, page, page_size: 100 } });
      } catch (error) {
        if (error instanceof LabelStudioError && error.status === 404 && page > 1) break;
        throw error;
      }
      const results = Array.isArray(answer) ? answer : (answer?.results ?? []);
      all.push(...results.filter((p) => p.title === title));
      if (Array.isArray(answer) || !answer?.next) break;
    }
    if (all.length === 0) return null;
    // Two replicas may have raced to create it: everyone uses the oldest.
    all.sort((a, b) => a.id - b.id);
    if (all.length > 1) this.logger.warn({ title, projects: all.map((p) => p.id) }, 'label-studio: several projects with this title; using the oldest');
    return all[0]!;
  }

  private async createProject(title: string, labelSet: LabelSetRef): Promise<ProjectJson> {
    const created = await this.client.request<ProjectJson>({
      method: 'POST',
      path: '/api/projects',
      body: { title, description: this.options.projectDescription.replaceAll('{labelSet}', labelSet.id), label_config: labelingConfig(labelSet), show_collab_predictions: true },
    });
    // Converge with a replica that created one at the same time: the oldest wins, the others are removed (they hold no task yet).
    const oldest = await this.findProject(title);
    if (oldest !== null && oldest.id !== created.id) {
      await this.client.request({ method: 'DELETE', path: `/api/projects/${created.id}` }).catch((error: unknown) => this.logger.warn({ project: created.id, err: (error as Error).message }, 'label-studio: removing a duplicate project failed'));
      return oldest;
    }
    this.logger.info({ project: created.id, title, labelSet: labelSet.id, version: labelSet.version }, 'label-studio: project created');
    return created;
  }

  private async updateConfig(state: ProjectState, labelSet: LabelSetRef): Promise<void> {
    const xml = labelingConfig(labelSet);
    await this.client.request({ method: 'PATCH', path: `/api/projects/${state.id}`, body: { label_config: xml } });
    this.logger.info({ project: state.id, labelSet: labelSet.id, from: state.version, to: labelSet.version, labels: labelSet.labels.length }, 'label-studio: labelling configuration updated for a new label set version');
    state.version = labelSet.version;
    state.labels = [...labelSet.labels];
  }
}
