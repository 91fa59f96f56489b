/**
 * Label Studio plugin: the review queue becomes Label Studio tasks (one project per label set,
 * one task per review item, with the model's prediction), and completed annotations become
 * ReviewDecision records on the decisions topic (webhook, with polling as the fallback). A
 * review sink: `deliver` returns only once the item's task exists, so the sidecar commits the
 * input only then; Label Studio being down is waited out (retryForMs) before the failure goes
 * back to the sidecar, still retriable. See README.md beside this file.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type { ReviewDecision } from '../../src/codec/index.js';
import type { ClipnPlugin } from '../../src/plugin/index.js';
import { LabelStudioClient } from './client.js';
import { DecisionFeed } from './decisions.js';
import { ReviewQueue } from './queue.js';

const MINUTE = 60_000;

export const options = z
  .strictObject({
    /** Label Studio's base URL. */
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    /** The API token; prefer tokenEnv. */
    token: z.string().min(1).optional(),
    /** The environment variable holding the API token. */
    tokenEnv: z.string().min(1).optional(),
    /** legacy: `Authorization: Token`; personal: a personal access token (JWT refresh token); auto: from its shape. */
    tokenKind: z.enum(['auto', 'legacy', 'personal']).default('auto'),
    /** Project title per label set; {labelSet} is its id. */
    projectTitle: z.string().min(1).max(50).default('CLIPN review: {labelSet}'),
    projectDescription: z.string().default('Images the CLIPN sidecar routed to review for label set {labelSet}. Choose the class, or "none of these" and name the new concept.'),
    /** Inline images above this many bytes are not put into tasks (a placeholder says why). */
    maxInlineBytes: z.int().min(1).default(4 * 1024 * 1024),
    /** How long deliver() keeps trying while Label Studio is unreachable or failing (5xx, 429, 408). */
    retryForMs: z.int().min(0).default(5 * MINUTE),
    initialBackoffMs: z.int().min(1).default(500),
    maxBackoffMs: z.int().min(1).default(15_000),
    /** Limit on one HTTP request to Label Studio. */
    timeoutMs: z.int().min(1).default(30_000),
    /** Tasks per page when listing a project. */
    pageSize: z.int().min(1).max(1000).default(500),
    /** Most review items in one import request, and most bytes of task JSON in one. */
    maxBatch: z.int().min(1).max(1000).default(100),
    maxBatchBytes: z.int().min(1024).default(8 * 1024 * 1024),
    /** How long an import with no answer may still complete in Label Studio; the item is looked up, not imported again, meanwhile. */
    ambiguityMs: z.int().min(0).default(MINUTE),
    /** The decisions topic (default: the service's kafka.topics.reviewDecisions). */
    decisionsTopic: z.string().min(1).optional(),
    /** Annotations -> decisions by webhook (Label Studio calls this plugin's endpoint). */
    webhook: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Interface and port of the endpoint (port 0: any free port). */
        host: z.string().min(1).default('0.0.0.0'),
        port: z.int().min(0).max(65535).default(9470),
        path: z.string().regex(/^\/[A-Za-z0-9/_.-]*$/, 'expected a path starting with /').default('/label-studio/webhook'),
        /** The URL Label Studio calls (default: http://<host>:<port><path>, which suits only a host Label Studio can reach by that name). */
        publicUrl: z.url({ protocol: /^https?$/ }).optional(),
        /** The shared secret Label Studio sends in x-clipn-webhook-secret; prefer secretEnv (default: derived from the token). */
        secret: z.string().min(16).optional(),
        secretEnv: z.string().min(1).optional(),
      })
      .prefault({}),
    /** Polling for annotations (the fallback for missed webhooks); 0: off. */
    pollIntervalMs: z.int().min(0).default(30_000),
    /** Each poll reads again tasks updated this long before the newest seen. */
    pollOverlapMs: z.int().min(0).default(5_000),
  })
  .refine((o) => (o.token === undefined) !== (o.tokenEnv === undefined), 'expected exactly one of token and tokenEnv')
  .refine((o) => o.webhook.secret === undefined || o.webhook.secretEnv === undefined, 'expected at most one of webhook.secret and webhook.secretEnv')
  .refine((o) => o.projectTitle.includes('{labelSet}'), 'expected {labelSet} in projectTitle (one project per label set)');

export type LabelStudioOptions = z.output<typeof options>;

class Refused extends Error {
  readonly retriable = false;
}

/** Made by `create`; exposed on the parts so the standalone command and tests can reach them. */
export interface LabelStudioParts {
  queue: ReviewQueue;
  feed: DecisionFeed;
  client: LabelStudioClient;
}

const plugin: ClipnPlugin<LabelStudioOptions> = {
  name: 'label-studio',
  apiVersion: 1,
  options,
  create(ctx) {
    const o = ctx.options;
    const token = o.token ?? process.env[o.tokenEnv!];
    if (!token) throw new Refused(`options.tokenEnv: expected the variable ${o.tokenEnv} to hold the Label Studio token, got nothing`);
    const secretFromEnv = o.webhook.secretEnv === undefined ? undefined : process.env[o.webhook.secretEnv];
    if (o.webhook.secretEnv !== undefined && !secretFromEnv) throw new Refused(`options.webhook.secretEnv: expected the variable ${o.webhook.secretEnv} to hold the webhook secret, got nothing`);
    // Without a configured secret, one derived from the token: every replica registers and expects the same.
    const secret = o.webhook.secret ?? secretFromEnv ?? createHmac('sha256', token).update('clipn label-studio webhook').digest('hex');
    const stopping = new AbortController();
    const signal = AbortSignal.any([ctx.signal, stopping.signal]);
    const client = new LabelStudioClient({ url: o.url, token, tokenKind: o.tokenKind, timeoutMs: o.timeoutMs, signal });
    const retry = { retryForMs: o.retryForMs, initialBackoffMs: o.initialBackoffMs, maxBackoffMs: o.maxBackoffMs };
    const queue = new ReviewQueue(client, { projectTitle: o.projectTitle, projectDescription: o.projectDescription, maxInlineBytes: o.maxInlineBytes, pageSize: o.pageSize, maxBatch: o.maxBatch, maxBatchBytes: o.maxBatchBytes, ambiguityMs: o.ambiguityMs, retry }, ctx.logger, signal);
    const feed = new DecisionFeed(
      {
        client,
        queue,
        logger: ctx.logger,
        signal,
        encode: (value: ReviewDecision) => ctx.encode('ReviewDecision', value),
        produce: (records) => ctx.produce(records),
      },
      {
        topic: o.decisionsTopic ?? ctx.config.kafka.topics.reviewDecisions,
        webhook: o.webhook.enabled ? { host: o.webhook.host, port: o.webhook.port, path: o.webhook.path.replace(/\/+$/, '') || '/', publicUrl: o.webhook.publicUrl ?? null, secret } : null,
        pollIntervalMs: o.pollIntervalMs,
        pollOverlapMs: o.pollOverlapMs,
      },
    );
    const parts = {
      reviewSinks: [
        {
          async deliver(item: Parameters<ReviewQueue['deliver']>[0]) {
            await queue.deliver(item);
            const project = await queue.project(item.labelSet);
            void feed.ensureWebhook(project.id);
            // Nothing for the host to produce: the item is in Label Studio.
          },
        },
      ],
      async start() {
        await feed.start();
        ctx.logger.info({ url: client.url, auth: client.kind, webhook: feed.webhookUrl, pollIntervalMs: o.pollIntervalMs, retryForMs: o.retryForMs }, 'label-studio: started');
      },
      async stop() {
        stopping.abort();
        await feed.stop();
      },
      labelStudio: { queue, feed, client } satisfies LabelStudioParts,
    };
    return parts;
  },
};

export default plugin;
