/** The label-studio plugin's client helpers that need no server: token kinds, JWT expiry, retry policy, options. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jwtExpiry, LabelStudioError, retriableStatus, retrying, tokenKindOf } from '../../../plugins/label-studio/client.js';
import { options } from '../../../plugins/label-studio/index.js';

const jwt = (payload: object) => ['eyJhbGciOiJIUzI1NiJ9', Buffer.from(JSON.stringify(payload)).toString('base64url'), 'c2ln'].join('.');

test('a JWT is a personal access token, anything else a legacy token', () => {
  assert.equal(tokenKindOf(jwt({ token_type: 'refresh' })), 'personal');
  assert.equal(tokenKindOf('0123456789abcdef0123456789abcdef01234567'), 'legacy');
  assert.equal(tokenKindOf('a.b'), 'legacy');
});

test('the expiry of an access token comes from its exp claim', () => {
  assert.equal(jwtExpiry(jwt({ exp: 1_800_000_000 })), 1_800_000_000_000);
  assert.equal(jwtExpiry(jwt({})), null);
  assert.equal(jwtExpiry('not.a.jwt'), null);
});

test('408, 429 and 5xx are worth another try; other statuses are not', () => {
  for (const s of [408, 429, 500, 502, 503, 504]) assert.equal(retriableStatus(s), true, String(s));
  for (const s of [400, 401, 403, 404, 409, 413]) assert.equal(retriableStatus(s), false, String(s));
});

test('retrying: retriable failures are retried with backoff until success or the deadline; others at once', async () => {
  const signal = new AbortController().signal;
  const policy = { retryForMs: 2000, initialBackoffMs: 5, maxBackoffMs: 20 };
  let n = 0;
  const seen: number[] = [];
  const value = await retrying(
    async () => {
      if (++n < 4) throw new LabelStudioError('down', { status: null, retriable: true });
      return 'ok';
    },
    policy,
    signal,
    (_e, attempt) => seen.push(attempt),
  );
  assert.equal(value, 'ok');
  assert.deepEqual(seen, [1, 2, 3]);

  let m = 0;
  await assert.rejects(
    retrying(async () => {
      m++;
      throw new LabelStudioError('bad request', { status: 400, retriable: false });
    }, policy, signal),
    /bad request/,
  );
  assert.equal(m, 1, 'not retried');

  const started = Date.now();
  await assert.rejects(
    retrying(async () => {
      throw new LabelStudioError('still down', { status: 503, retriable: true });
    }, { retryForMs: 100, initialBackoffMs: 10, maxBackoffMs: 20 }, signal),
    (e: unknown) => e instanceof LabelStudioError && e.retriable,
  );
  assert.ok(Date.now() - started < 1000, 'gave up at the deadline, still marked retriable');

  const ac = new AbortController();
  const stopped = retrying(async () => {
    throw new LabelStudioError('down', { status: null, retriable: true });
  }, { retryForMs: 60_000, initialBackoffMs: 10_000, maxBackoffMs: 10_000 }, ac.signal);
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(stopped, /down/, 'an abort ends the wait');
});

test('options: one of token and tokenEnv; {labelSet} in the title; defaults wait out a restart of minutes', () => {
  const ok = options.parse({ url: 'http://ls:8080', tokenEnv: 'LS_TOKEN' });
  assert.equal(ok.retryForMs, 300_000);
  assert.equal(ok.tokenKind, 'auto');
  assert.equal(ok.webhook.enabled, true);
  assert.equal(ok.pollIntervalMs, 30_000);
  assert.equal(options.safeParse({ url: 'http://ls:8080' }).success, false);
  assert.equal(options.safeParse({ url: 'http://ls:8080', token: 'a', tokenEnv: 'B' }).success, false);
  assert.equal(options.safeParse({ url: 'http://ls:8080', token: 'a', projectTitle: 'one project' }).success, false);
  assert.equal(options.safeParse({ url: 'ftp://ls', token: 'a' }).success, false);
  assert.equal(options.safeParse({ url: 'http://ls:8080', token: 'a', misspelt: 1 }).success, false);
});
