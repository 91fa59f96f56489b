import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBudget } from '../../src/stream/byte-budget.js';

const tick = () => new Promise((r) => setImmediate(r));

test('reservations wait while the budget is spent and run in arrival order', async () => {
  const budget = new ByteBudget(100);
  const a = await budget.reserve(60);
  const order: string[] = [];
  const b = budget.reserve(50).then((r) => (order.push('b'), r));
  const c = budget.reserve(10).then((r) => (order.push('c'), r));
  await tick();
  // c would fit, but b came first: no overtaking, so a large reservation is not starved.
  assert.deepEqual(order, []);
  assert.equal(budget.waiting, 2);
  a.release();
  const [rb, rc] = await Promise.all([b, c]);
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(budget.inUse, 60);
  rb.release();
  rc.release();
  rc.release(); // twice is harmless
  assert.equal(budget.inUse, 0);
});

test('one reservation larger than the whole budget runs alone', async () => {
  const budget = new ByteBudget(100);
  const small = await budget.reserve(10);
  let got = false;
  const big = budget.reserve(500).then((r) => ((got = true), r));
  await tick();
  assert.equal(got, false);
  small.release();
  const r = await big;
  assert.equal(budget.inUse, 500);
  r.release();
  assert.equal(budget.inUse, 0);
});

test('resize gives back (or takes) bytes without waiting, and wakes waiters', async () => {
  const budget = new ByteBudget(100);
  const r = await budget.reserve(90);
  const waiting = budget.reserve(50);
  r.resize(40);
  const w = await waiting;
  assert.equal(budget.inUse, 90);
  assert.equal(r.bytes, 40);
  w.release();
  r.release();
  assert.equal(r.bytes, 0);
  assert.equal(budget.inUse, 0);
});

test('an aborted wait leaves the queue and rejects with the reason; later waiters still run', async () => {
  const budget = new ByteBudget(10);
  const held = await budget.reserve(10);
  const controller = new AbortController();
  const aborted = budget.reserve(5, controller.signal);
  const after = budget.reserve(5);
  controller.abort(new Error('shutdown'));
  await assert.rejects(aborted, /shutdown/);
  held.release();
  const r = await after;
  assert.equal(budget.inUse, 5);
  r.release();
  await assert.rejects(budget.reserve(1, AbortSignal.abort(new Error('already'))), /already/);
});
