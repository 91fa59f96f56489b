import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClipnError, isClipnError } from '../src/errors.js';
import { backoffMs, withRetries } from '../src/retry.js';

const policy = { attempts: 4, initialBackoffMs: 1, maxBackoffMs: 4 };

test('a retriable failure is tried again until it succeeds', async () => {
  let calls = 0;
  const retried: number[] = [];
  const got = await withRetries(async () => {
    calls++;
    if (calls < 3) throw new ClipnError('IMAGE_FETCH_TIMEOUT', 'slow');
    return 'ok';
  }, policy, { onRetry: (_e, attempt) => retried.push(attempt) });
  assert.equal(got, 'ok');
  assert.equal(calls, 3);
  assert.deepEqual(retried, [1, 2]);
});

test('the last failure after all attempts says how many tries were made; non-retriable failures are final at once', async () => {
  let calls = 0;
  await assert.rejects(withRetries(async () => {
    calls++;
    throw new ClipnError('INFERENCE_FAILED', 'boom');
  }, policy), (e: unknown) => isClipnError(e, 'INFERENCE_FAILED') && e.details.attempts === 4 && /gave up after 4 tries/.test(e.message));
  assert.equal(calls, 4);
  calls = 0;
  await assert.rejects(withRetries(async () => {
    calls++;
    throw new ClipnError('IMAGE_TRUNCATED', 'cut');
  }, policy), (e: unknown) => isClipnError(e, 'IMAGE_TRUNCATED') && !/gave up/.test((e as Error).message));
  assert.equal(calls, 1);
});

test('an abort during the backoff ends the retries with the last failure', async () => {
  const controller = new AbortController();
  let calls = 0;
  const pending = withRetries(async () => {
    calls++;
    throw new ClipnError('IMAGE_FETCH_FAILED', 'down');
  }, { attempts: 10, initialBackoffMs: 60_000, maxBackoffMs: 60_000 }, { signal: controller.signal });
  setImmediate(() => controller.abort());
  await assert.rejects(pending, (e: unknown) => isClipnError(e, 'IMAGE_FETCH_FAILED'));
  assert.equal(calls, 1);
});

test('backoff doubles from the initial wait up to the cap, jitter only below it', () => {
  const p = { attempts: 10, initialBackoffMs: 100, maxBackoffMs: 1000 };
  assert.deepEqual([2, 3, 4, 5, 6].map((a) => backoffMs(p, a, () => 0)), [100, 200, 400, 800, 1000]);
  assert.equal(backoffMs(p, 2, () => 1), 80);
});

test('attempts: Infinity keeps retrying a retriable failure until it succeeds, and stops on a final one', async () => {
  const policy = { attempts: Number.POSITIVE_INFINITY, initialBackoffMs: 1, maxBackoffMs: 2 };
  let calls = 0;
  const value = await withRetries(async () => {
    if (++calls < 25) throw new ClipnError('KAFKA_ERROR', 'down', { retriable: true });
    return 'delivered';
  }, policy);
  assert.equal(value, 'delivered');
  assert.equal(calls, 25);
  calls = 0;
  await assert.rejects(withRetries(async () => {
    if (++calls < 3) throw new ClipnError('KAFKA_ERROR', 'down', { retriable: true });
    throw new ClipnError('CONFIG_INVALID', 'bad token');
  }, policy), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /gave up after 3 tries/.test((e as Error).message));
});
