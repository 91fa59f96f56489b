/**
 * Webhook plugin: posts review items (or tagged results) that match a filter to an HTTP
 * endpoint, as JSON signed with HMAC-SHA256, retried with exponential backoff on network errors,
 * 408, 429 and 5xx; after the last attempt the message fails, which the sidecar turns into a dead
 * letter naming this plugin (nothing is committed before the endpoint has it).
 */
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import type { ClipnPlugin, RecordMeta } from '../../src/plugin/index.js';

const options = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
    /** The HMAC key; prefer secretEnv. */
    secret: z.string().min(16).optional(),
    /** The environment variable holding the HMAC key. */
    secretEnv: z.string().min(1).optional(),
    /** review: every review item; results: every tagged result. */
    on: z.enum(['review', 'results']).default('review'),
    /** Only these predicted labels (none: all). */
    labels: z.array(z.string().min(1)).optional(),
    /** With on=results: only results routed to review. */
    routedOnly: z.boolean().default(false),
    attempts: z.int().min(1).max(20).default(5),
    initialBackoffMs: z.int().min(1).default(200),
    maxBackoffMs: z.int().min(1).default(5000),
    timeoutMs: z.int().min(1).default(5000),
  })
  .refine((o) => (o.secret === undefined) !== (o.secretEnv === undefined), 'expected exactly one of secret and secretEnv');

/** The headers a delivery carries; the receiver checks the signature over `${timestamp}.${body}`. */
export const WEBHOOK_HEADERS = { signature: 'x-clipn-signature', timestamp: 'x-clipn-timestamp', event: 'x-clipn-event', id: 'x-clipn-delivery' } as const;

/** HMAC-SHA256 of `${timestamp}.${body}`, as the signature header carries it. */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

// Bytes (an inline image) as base64 text; everything else as JSON has it.
const json = (value: unknown): string => JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data) ? Buffer.from((v as { data: number[] }).data).toString('base64') : v));

class Refused extends Error {
  readonly retriable = false;
}

const plugin: ClipnPlugin<z.output<typeof options>> = {
  name: 'webhook',
  apiVersion: 1,
  options,
  create({ options: o, logger, signal }) {
    const secret = o.secret ?? process.env[o.secretEnv!];
    if (!secret) throw new Refused(`options.secretEnv: expected the variable ${o.secretEnv} to hold the HMAC key, got nothing`);
    const wanted = (label: string) => o.labels === undefined || o.labels.includes(label);
    const post = async (event: string, value: unknown, meta: RecordMeta): Promise<void> => {
      const body = json(value);
      let lastProblem = '';
      for (let attempt = 1; attempt <= o.attempts; attempt++) {
        const timestamp = String(Date.now());
        try {
          const res = await fetch(o.url, {
            method: 'POST',
            body,
            signal: AbortSignal.any([signal, AbortSignal.timeout(o.timeoutMs)]),
            headers: { 'content-type': 'application/json', [WEBHOOK_HEADERS.signature]: webhookSignature(secret, timestamp, body), [WEBHOOK_HEADERS.timestamp]: timestamp, [WEBHOOK_HEADERS.event]: event, [WEBHOOK_HEADERS.id]: meta.id },
          });
          await res.body?.cancel().catch(() => undefined);
          if (res.ok) return;
          lastProblem = `HTTP ${res.status}`;
          if (res.status < 500 && res.status !== 408 && res.status !== 429) throw new Refused(`${o.url} answered ${res.status}: not retried`);
        } catch (error) {
          if (error instanceof Refused) throw error;
          if (signal.aborted) throw error;
          lastProblem = (error as Error).message;
        }
        if (attempt < o.attempts) {
          const wait = Math.min(o.maxBackoffMs, o.initialBackoffMs * 2 ** (attempt - 1));
          logger.warn({ attempt, waitMs: wait, problem: lastProblem, id: meta.id }, 'webhook delivery failed; retrying');
          await sleep(wait, undefined, { signal });
        }
      }
      throw new Refused(`${o.url}: no delivery after ${o.attempts} attempts (last: ${lastProblem})`);
    };
    if (o.on === 'review') {
      return { reviewSinks: [{ deliver: async (item, meta) => void (wanted(item.label) && (await post('review', item, meta))) }] };
    }
    return {
      resultHooks: [
        {
          async onResult(result, meta) {
            if (wanted(result.label) && (!o.routedOnly || result.routed)) await post('result', result, meta);
          },
        },
      ],
    };
  },
};

export default plugin;
