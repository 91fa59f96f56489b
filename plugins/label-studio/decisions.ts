/**
 * From annotations in Label Studio to ReviewDecision records (key: the item id) on the decisions
 * topic, two ways: a webhook Label Studio calls when an annotation is created or updated (an
 * HTTP endpoint this plugin serves, checked by a shared secret header), and polling of the
 * projects' recently updated tasks as the fallback that makes sure nothing is missed (Label
 * Studio never retries a webhook; it also cannot call one while this service is down). Both
 * produce the same record for the same annotation version, and the trainer ignores a repeat.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReviewDecision } from '../../src/codec/index.js';
import type { PluginRecord } from '../../src/plugin/index.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { LabelStudioError, type LabelStudioClient } from './client.js';
import { configVersion, decisionOf, labelsOfConfig, type AnnotationLike } from './labeling.js';
import type { ReviewQueue, TaskJson } from './queue.js';

/** The header carrying the webhook secret (Label Studio sends the headers its webhook was registered with). */
export const WEBHOOK_SECRET_HEADER = 'x-clipn-webhook-secret';

/** The annotation actions the webhook is registered for. */
export const WEBHOOK_ACTIONS = ['ANNOTATION_CREATED', 'ANNOTATIONS_CREATED', 'ANNOTATION_UPDATED'] as const;

export interface FeedOptions {
  topic: string;
  webhook: null | {
    host: string;
    port: number;
    path: string;
    /** The URL Label Studio calls (null: http://<host>:<port><path>). */
    publicUrl: string | null;
    secret: string;
  };
  /** Polling period in ms; 0: no polling. */
  pollIntervalMs: number;
  /** Tasks updated this long before the newest seen are read again at each poll (same-second updates). */
  pollOverlapMs: number;
}

export interface FeedDeps {
  client: LabelStudioClient;
  queue: ReviewQueue;
  logger: Logger;
  signal: AbortSignal;
  encode(value: ReviewDecision): Promise<Buffer>;
  produce(records: readonly PluginRecord[]): Promise<void>;
}

/** Counters the feed keeps (tests and logs read them). */
export interface FeedStats {
  produced: number;
  fromWebhook: number;
  fromPoll: number;
  skipped: number;
  polls: number;
  lastPollError: string | null;
}

interface OurProject {
  id: number;
  labelSetId: string;
  labels: string[];
}

export class DecisionFeed {
  readonly stats: FeedStats = { produced: 0, fromWebhook: 0, fromPoll: 0, skipped: 0, polls: 0, lastPollError: null };
  private server: Server | null = null;
  private loop: Promise<void> | null = null;
  // "<annotation id>@<updated_at>" -> when its task was last updated (ms): what was produced (or skipped) already.
  private readonly seen = new Map<string, number>();
  private readonly inFlight = new Map<string, Promise<void>>();
  // project id -> the time of the newest task update read (Label Studio's clock, ms).
  private readonly cursors = new Map<number, number>();
  // project id -> the webhook registered there (or null: refused, polling only).
  private readonly hooks = new Map<number, Promise<number | null>>();
  private readonly reviewers = new Map<number, Promise<string | null>>();
  private readonly wake = new AbortController();

  constructor(
    private readonly deps: FeedDeps,
    private readonly options: FeedOptions,
  ) {}

  /** The URL Label Studio calls, once listening (null without a webhook). */
  get webhookUrl(): string | null {
    const w = this.options.webhook;
    if (w === null || this.server === null) return null;
    if (w.publicUrl) return w.publicUrl;
    const { port } = this.server.address() as AddressInfo;
    // Listening on every interface: name the loopback one (Label Studio on the same host); set publicUrl otherwise.
    const host = w.host === '0.0.0.0' ? '127.0.0.1' : w.host === '::' ? '[::1]' : w.host.includes(':') ? `[${w.host}]` : w.host;
    return `http://${host}:${port}${w.path}`;
  }

  /** Starts the webhook endpoint and the poller. */
  async start(): Promise<void> {
    const w = this.options.webhook;
    if (w !== null) {
      const server = createServer((req, res) => void this.onRequest(req, res));
      server.requestTimeout = 30_000;
      server.headersTimeout = 10_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(w.port, w.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.server = server;
      this.deps.logger.info({ url: this.webhookUrl, listening: `${w.host}:${(server.address() as AddressInfo).port}` }, 'label-studio: webhook endpoint listening');
    }
    if (this.options.pollIntervalMs > 0) this.loop = this.pollLoop();
  }

  /** Stops both; waits for a poll in progress and for records being produced. */
  async stop(): Promise<void> {
    this.wake.abort();
    await this.loop?.catch(() => undefined);
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server?.closeAllConnections();
    await Promise.allSettled([...this.inFlight.values()]);
  }

  /**
   * Registers the webhook on a project (once per project and process): updates one with this
   * URL, else creates it. A refusal (Label Studio's SSRF protection refuses private addresses)
   * is logged and leaves polling alone.
   */
  ensureWebhook(projectId: number): Promise<number | null> {
    const url = this.webhookUrl;
    if (url === null) return Promise.resolve(null);
    let p = this.hooks.get(projectId);
    if (!p) {
      p = this.registerWebhook(projectId, url).catch((error: unknown) => {
        const e = error as LabelStudioError;
        // Retriable (Label Studio down): try again with the next item or poll.
        if (e.retriable) this.hooks.delete(projectId);
        else this.deps.logger.warn({ project: projectId, url, err: e.message }, 'label-studio: Label Studio refused the webhook (for a private address, start it with SSRF_PROTECTION_ENABLED=false or set webhook.publicUrl); decisions come by polling only');
        return null;
      });
      this.hooks.set(projectId, p);
    }
    return p;
  }

  private async registerWebhook(projectId: number, url: string): Promise<number> {
    const { client } = this.deps;
    const secret = this.options.webhook!.secret;
    const body = { project: projectId, url, send_payload: true, send_for_all_actions: false, is_active: true, actions: [...WEBHOOK_ACTIONS], headers: { [WEBHOOK_SECRET_HEADER]: secret } };
    const list = await client.request<Array<{ id: number; url: string; project: number | null }>>({ method: 'GET', path: '/api/webhooks/', query: { project: projectId } });
    const mine = (list ?? []).filter((h) => h.project === projectId && h.url === url).sort((a, b) => a.id - b.id);
    if (mine.length > 0) {
      await client.request({ method: 'PATCH', path: `/api/webhooks/${mine[0]!.id}/`, body: { url, send_payload: true, send_for_all_actions: false, is_active: true, actions: [...WEBHOOK_ACTIONS], headers: body.headers } });
      for (const extra of mine.slice(1)) await client.request({ method: 'DELETE', path: `/api/webhooks/${extra.id}/` }).catch(() => undefined);
      return mine[0]!.id;
    }
    const created = await client.request<{ id: number }>({ method: 'POST', path: '/api/webhooks/', body });
    this.deps.logger.info({ project: projectId, webhook: created.id, url }, 'label-studio: webhook registered');
    return created.id;
  }

  // ---- webhook ----

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const w = this.options.webhook!;
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === `${w.path}/health`) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    if (path !== w.path) return void res.writeHead(404).end();
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    const given = Buffer.from(String(req.headers[WEBHOOK_SECRET_HEADER] ?? ''));
    const want = Buffer.from(w.secret);
    if (given.length !== want.length || !timingSafeEqual(given, want)) {
      req.resume();
      return void res.writeHead(401).end();
    }
    let body: string;
    try {
      body = await readBody(req, 64 * 1024 * 1024);
    } catch (error) {
      return void res.writeHead(413).end((error as Error).message);
    }
    let payload: WebhookPayload;
    try {
      payload = JSON.parse(body) as WebhookPayload;
    } catch {
      return void res.writeHead(400).end('expected JSON');
    }
    // Label Studio waits for the answer (1 s by default) while its user waits: answer first,
    // then produce. A record lost here is found by the next poll.
    res.writeHead(202).end();
    await this.onWebhook(payload).catch((error: unknown) => this.deps.logger.warn({ action: payload.action, err: (error as Error).message }, 'label-studio: a webhook could not be turned into decisions; polling will pick them up'));
  }

  private async onWebhook(payload: WebhookPayload): Promise<void> {
    if (!WEBHOOK_ACTIONS.includes(payload.action as (typeof WEBHOOK_ACTIONS)[number])) return;
    const project = this.ourProject(payload.project);
    if (project === null) return;
    const annotations = Array.isArray(payload.annotation) ? payload.annotation : payload.annotation ? [payload.annotation] : [];
    const tasks = Array.isArray(payload.task) ? payload.task : payload.task ? [payload.task] : [];
    const byId = new Map(tasks.map((t) => [t.id, t]));
    for (const a of annotations) {
      const task = byId.get(typeof a.task === 'number' ? a.task : -1) ?? (tasks.length === 1 ? tasks[0] : undefined);
      if (task) await this.handle(project, task, a, 'webhook');
    }
  }

  /** A project from a webhook payload if this plugin made it (its labelling configuration says so). */
  private ourProject(p: { id?: number; title?: string; label_config?: string } | undefined): OurProject | null {
    if (!p || typeof p.id !== 'number' || typeof p.label_config !== 'string') return null;
    const made = configVersion(p.label_config);
    if (made === null || p.title !== this.deps.queue.titleOf(made.id)) return null;
    return { id: p.id, labelSetId: made.id, labels: labelsOfConfig(p.label_config) ?? [] };
  }

  // ---- polling ----

  private async pollLoop(): Promise<void> {
    const stop = AbortSignal.any([this.deps.signal, this.wake.signal]);
    while (!stop.aborted) {
      try {
        await this.pollOnce();
        this.stats.lastPollError = null;
      } catch (error) {
        const e = error as Error;
        if (stop.aborted) break;
        if (this.stats.lastPollError === null) this.deps.logger.warn({ err: e.message }, 'label-studio: polling for annotations failed; trying again next period');
        this.stats.lastPollError = e.message;
      }
      await sleep(this.options.pollIntervalMs, undefined, { signal: stop }).catch(() => undefined);
    }
  }

  /** One poll: every project of ours, tasks with annotations updated since the last poll (minus the overlap). */
  async pollOnce(): Promise<void> {
    const projects = await this.ourProjects();
    for (const project of projects) {
      if (this.options.webhook !== null) void this.ensureWebhook(project.id);
      const since = this.cursors.get(project.id);
      const filters: unknown[] = [{ filter: 'filter:tasks:total_annotations', operator: 'greater', type: 'Number', value: 0 }];
      if (since !== undefined) filters.push({ filter: 'filter:tasks:updated_at', operator: 'greater_or_equal', type: 'Datetime', value: new Date(since - this.options.pollOverlapMs).toISOString() });
      let newest = since ?? 0;
      for await (const task of this.deps.queue.tasks(project.id, { all: true, filters })) {
        const updated = Date.parse(task.updated_at ?? '');
        if (Number.isFinite(updated)) newest = Math.max(newest, updated);
        for (const a of (task.annotations ?? []) as AnnotationJson[]) await this.handle(project, task, a, 'poll', updated);
      }
      this.cursors.set(project.id, newest);
      // What is older than the window read again can never come back: forget it.
      for (const [key, t] of this.seen) if (t < newest - 2 * this.options.pollOverlapMs) this.seen.delete(key);
    }
    this.stats.polls++;
    this.deps.logger.debug({ polls: this.stats.polls, projects: projects.length, produced: this.stats.produced }, 'label-studio: poll done');
  }

  /** Projects this plugin made (their labelling configuration carries its marker and their title matches). */
  private async ourProjects(): Promise<OurProject[]> {
    const out: OurProject[] = [];
    for (let page = 1; ; page++) {
      let answer: { results?: Array<{ id: number; title: string; label_config: string }>; next?: string | null } | null;
      try {
        answer = await this.deps.client.request({ method: 'GET', path: '/api/projects', query: { page, page_size: 100 } });
      } catch (error) {
        if (error instanceof LabelStudioError && error.status === 404 && page > 1) break;
        throw error;
      }
      for (const p of answer?.results ?? []) {
        const ours = this.ourProject(p);
        if (ours) out.push(ours);
      }
      if (!answer?.next) break;
    }
    return out;
  }

  // ---- both ----

  private handle(project: OurProject, task: TaskJson, a: AnnotationJson, via: 'webhook' | 'poll', taskUpdated = Date.now()): Promise<void> {
    const key = `${a.id}@${a.updated_at ?? a.created_at ?? ''}`;
    if (this.seen.has(key)) return Promise.resolve();
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.produceDecision(project, task, a, via)
      .then(() => void this.seen.set(key, taskUpdated))
      .finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async produceDecision(project: OurProject, task: TaskJson, a: AnnotationJson, via: 'webhook' | 'poll'): Promise<void> {
    const itemId = task.data?.item_id;
    if (typeof itemId !== 'string') {
      this.stats.skipped++;
      return;
    }
    const reviewer = await this.reviewer(a);
    const mapped = decisionOf(itemId, project.labels, a, reviewer);
    if ('skip' in mapped) {
      this.stats.skipped++;
      this.deps.logger.debug({ item: itemId, task: task.id, annotation: a.id, why: mapped.skip }, 'label-studio: annotation makes no decision');
      return;
    }
    const value = await this.deps.encode(mapped.decision);
    await this.deps.produce([{ topic: this.options.topic, key: itemId, value, headers: { 'clipn-id': itemId, 'clipn-source': `label-studio/${project.id}/${task.id}/${a.id ?? ''}` } }]);
    this.stats.produced++;
    if (via === 'webhook') this.stats.fromWebhook++;
    else this.stats.fromPoll++;
    this.deps.logger.info({ item: itemId, task: task.id, annotation: a.id, decision: mapped.decision.decision, label: mapped.decision.label, concept: mapped.decision.concept, via }, 'label-studio: decision produced');
  }

  /** Who annotated: the user's e-mail (or name) from Label Studio, cached; null when unknown. */
  private reviewer(a: AnnotationJson): Promise<string | null> {
    const id = typeof a.completed_by === 'number' ? a.completed_by : typeof a.completed_by === 'object' && a.completed_by !== null ? (a.completed_by as { id?: number }).id : undefined;
    if (typeof id !== 'number') return Promise.resolve(typeof a.created_username === 'string' ? a.created_username : null);
    let p = this.reviewers.get(id);
    if (!p) {
      p = this.deps.client
        .request<{ email?: string; username?: string }>({ method: 'GET', path: `/api/users/${id}/` })
        .then((u) => u?.email || u?.username || `label-studio user ${id}`)
        .catch(() => {
          this.reviewers.delete(id);
          return `label-studio user ${id}`;
        });
      this.reviewers.set(id, p);
    }
    return p;
  }
}

/** An annotation as the API or a webhook has it. */
type AnnotationJson = AnnotationLike & { task?: number };

interface WebhookPayload {
  action?: string;
  annotation?: AnnotationJson | AnnotationJson[];
  task?: TaskJson | TaskJson[];
  project?: { id?: number; title?: string; label_config?: string };
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
