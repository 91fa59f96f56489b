/**
 * A small Label Studio HTTP API client: authentication with a legacy token (`Authorization: Token
 * <token>`) or a personal access token (a JWT refresh token exchanged at /api/token/refresh/ for
 * a short-lived access token sent as `Authorization: Bearer <access>`, refreshed when it expires
 * or is refused), one request per call with a time limit, and errors that say whether trying
 * again can help (network errors, timeouts, 408, 429, 5xx: retriable; other 4xx: not).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How the token authenticates: a legacy token, or a personal access token (JWT refresh token). */
export type TokenKind = 'legacy' | 'personal';

/** A JWT (three base64url parts) is a personal access token; anything else (40 hex characters, say) a legacy token. */
export function tokenKindOf(token: string): TokenKind {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token.trim()) ? 'personal' : 'legacy';
}

/** A failed call to Label Studio. `retriable`: whether the same call may succeed later. */
export class LabelStudioError extends Error {
  readonly retriable: boolean;
  readonly status: number | null;
  constructor(message: string, options: { status: number | null; retriable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LabelStudioError';
    this.status = options.status;
    this.retriable = options.retriable;
  }
}

/** Whether an HTTP status means "try again later". */
export function retriableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export interface ClientOptions {
  /** Label Studio's base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  token: string;
  /** 'auto': from the token's shape ({@link tokenKindOf}). */
  tokenKind: TokenKind | 'auto';
  /** Limit on one request, in ms. */
  timeoutMs: number;
  /** Aborts every request (the service is stopping). */
  signal: AbortSignal;
}

/** One HTTP call. */
export interface Call {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
}

// The access token is refreshed this long before the expiry its JWT states.
const ACCESS_MARGIN_MS = 30_000;

export class LabelStudioClient {
  readonly kind: TokenKind;
  private readonly base: string;
  private access: { token: string; expiresAt: number } | null = null;
  private refreshing: Promise<string> | null = null;

  constructor(private readonly options: ClientOptions) {
    this.kind = options.tokenKind === 'auto' ? tokenKindOf(options.token) : options.tokenKind;
    this.base = options.url.replace(/\/+$/, '');
  }

  /** The service's base URL (no trailing slash). */
  get url(): string {
    return this.base;
  }

  /** Sends one call; resolves with the parsed JSON answer (null for an empty one). */
  async request<T = unknown>(call: Call): Promise<T> {
    let auth = await this.authorization();
    let res = await this.send(call, auth);
    if (res.status === 401 && this.kind === 'personal') {
      // The access token expired early or was revoked: one fresh one, one more try.
      await res.body?.cancel().catch(() => undefined);
      this.access = null;
      auth = await this.authorization();
      res = await this.send(call, auth);
    }
    const text = await res.text().catch((error: unknown) => {
      throw new LabelStudioError(`${call.method} ${call.path}: reading the answer failed: ${(error as Error).message}`, { status: res.status, retriable: true, cause: error });
    });
    if (!res.ok) {
      throw new LabelStudioError(`${call.method} ${call.path}: Label Studio answered ${res.status}: ${text.slice(0, 500)}`, { status: res.status, retriable: retriableStatus(res.status) });
    }
    if (text.trim() === '') return null as T;
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      // An HTML page where JSON was expected: a proxy or a server still starting.
      throw new LabelStudioError(`${call.method} ${call.path}: expected JSON, got ${JSON.stringify(text.slice(0, 120))}`, { status: res.status, retriable: true, cause: error });
    }
  }

  private async send(call: Call, authorization: string): Promise<Response> {
    const url = new URL(this.base + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    try {
      return await fetch(url, {
        method: call.method,
        headers: { authorization, accept: 'application/json', ...(call.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: AbortSignal.any([this.options.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (error) {
      if (this.options.signal.aborted) throw new LabelStudioError(`${call.method} ${call.path}: stopped`, { status: null, retriable: true, cause: error });
      const e = error as Error & { cause?: { code?: string; message?: string } };
      const why = e.name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      throw new LabelStudioError(`${call.method} ${call.path}: Label Studio unreachable at ${this.base} (${why})`, { status: null, retriable: true, cause: error });
    }
  }

  private async authorization(): Promise<string> {
    if (this.kind === 'legacy') return `Token ${this.options.token}`;
    if (this.access !== null && Date.now() < this.access.expiresAt - ACCESS_MARGIN_MS) return `Bearer ${this.access.token}`;
    this.refreshing ??= this.refresh().finally(() => (this.refreshing = null));
    return `Bearer ${await this.refreshing}`;
  }

  /** Exchanges the personal access token (a refresh token) for an access token. */
  private async refresh(): Promise<string> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/token/refresh/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ refresh: this.options.token }),
        signal: AbortSignal.any([this.options.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
    } catch (error) {
      throw new LabelStudioError(`POST /api/token/refresh/: Label Studio unreachable at ${this.base} (${(error as Error).message})`, { status: null, retriable: true, cause: error });
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      // 401: the personal access token is invalid, expired or revoked: no retry fixes that.
      throw new LabelStudioError(`POST /api/token/refresh/: Label Studio refused the personal access token (${res.status}): ${text.slice(0, 300)}`, { status: res.status, retriable: retriableStatus(res.status) });
    }
    const access = (JSON.parse(text) as { access?: unknown }).access;
    if (typeof access !== 'string') throw new LabelStudioError('POST /api/token/refresh/: expected {"access": "<jwt>"} in the answer', { status: res.status, retriable: false });
    this.access = { token: access, expiresAt: jwtExpiry(access) ?? Date.now() + 4 * 60_000 };
    return access;
  }
}

/** The `exp` of a JWT, in ms since the epoch, or null when it has none. */
export function jwtExpiry(jwt: string): number | null {
  try {
    const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : null;
  } catch {
    return null;
  }
}

/** Backoff and patience of {@link retrying}. */
export interface RetryPolicy {
  /** Keep trying a retriable failure for this long, in ms (then throw it, still marked retriable). */
  retryForMs: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Runs `fn` until it succeeds, retrying retriable failures with exponential backoff (and jitter)
 * for up to `retryForMs`; a failure that is not retriable, or the last one, is thrown. `onRetry`
 * hears about each failure before the wait (to log it, or to re-check state).
 */
export async function retrying<T>(fn: (attempt: number) => Promise<T>, policy: RetryPolicy, signal: AbortSignal, onRetry?: (error: Error, attempt: number, waitMs: number) => void): Promise<T> {
  const deadline = Date.now() + policy.retryForMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const retriable = (error as { retriable?: unknown }).retriable === true;
      if (!retriable || signal.aborted) throw error;
      const backoff = Math.min(policy.maxBackoffMs, policy.initialBackoffMs * 2 ** Math.min(attempt - 1, 30));
      const wait = Math.round(backoff * (0.75 + Math.random() * 0.5));
      if (Date.now() + wait > deadline) throw error;
      onRetry?.(error as Error, attempt, wait);
      await sleep(wait, undefined, { signal }).catch(() => {
        throw error;
      });
    }
  }
}
