import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HealthChecks } from '../../src/telemetry/health.js';
import { watchEventLoop } from '../../src/telemetry/event-loop.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a synchronous stall, as a hostile input could cause
  }
};

test('a stall past the limit fails the check for the window after it, then it passes again', async () => {
  const liveness = new HealthChecks();
  const check = liveness.register('event-loop');
  const stalls: number[] = [];
  const delays: number[] = [];
  const stop = watchEventLoop(check, { blockedMs: 150, windowMs: 300, tickMs: 20 }, { stall: (ms) => stalls.push(ms), delay: (ms) => delays.push(ms) });
  try {
    assert.equal(liveness.report().ready, true);
    busy(250);
    // Let the late timer fire.
    await new Promise((r) => setImmediate(r));
    const deadline = performance.now() + 1000;
    while (liveness.report().ready && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(liveness.report().ready, false);
    assert.match(liveness.report().failing['event-loop'] ?? '', /blocked for \d+ ms \(limit 150 ms\)/);
    assert.ok(stalls[0]! >= 150);
    assert.ok(delays.some((ms) => ms >= stalls[0]!), 'the stall is among the delays reported each tick');
    assert.ok(delays.every((ms) => ms >= 0));
    const until = performance.now() + 2000;
    while (!liveness.report().ready && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.equal(liveness.report().ready, true, 'passes again once the window has passed');
  } finally {
    stop();
  }
});

test('short pauses below the limit keep it passing', async () => {
  const liveness = new HealthChecks();
  const stop = watchEventLoop(liveness.register('event-loop'), { blockedMs: 500, windowMs: 1000, tickMs: 20 });
  try {
    for (let i = 0; i < 5; i++) {
      busy(50);
      await new Promise((r) => setTimeout(r, 30));
    }
    assert.equal(liveness.report().ready, true);
  } finally {
    stop();
  }
});
