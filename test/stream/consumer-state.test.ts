import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { ConsumerState } from '../../src/stream/consumer-state.js';
import { HealthChecks } from '../../src/telemetry/health.js';
import { createLogger } from '../../src/telemetry/logger.js';

// A fake of the kafkajs consumer's event surface: the state machine is pure logic over events.
const EVENTS = { GROUP_JOIN: 'join', REBALANCING: 'rebalancing', FETCH: 'fetch', HEARTBEAT: 'heartbeat', COMMIT_OFFSETS: 'commit', STOP: 'stop', CRASH: 'crash', START_BATCH_PROCESS: 'start', END_BATCH_PROCESS: 'end' };
function fakeConsumer() {
  const emitter = new EventEmitter();
  return { events: EVENTS, on: (e: string, l: (x: unknown) => void) => emitter.on(e, l), emit: (e: string, payload: unknown = {}) => emitter.emit(e, { payload }) };
}

function setUp(options = { staleAfterMs: 60_000, stallRestartMs: 0, maxRestarts: 2, restartWindowMs: 60_000 }) {
  const readiness = new HealthChecks();
  const liveness = new HealthChecks();
  const fatal: string[] = [];
  const restarts: number[] = [];
  const state = new ConsumerState(readiness.register('consumer'), liveness.register('consumer'), options, createLogger({ level: 'silent', serviceName: 't' }), {
    onFatal: (e) => fatal.push(e.message),
    onRestart: () => restarts.push(1),
  });
  const consumer = fakeConsumer();
  state.attach(consumer as never);
  return { state, consumer, fatal, restarts, liveness };
}

test('ready once a member that fetched; a rebalance or a crash makes it not ready; kafkajs restarting it and joining again makes it ready', () => {
  const { state, consumer } = setUp();
  assert.equal(state.ready, false);
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: { images: [0, 1] } });
  assert.equal(state.ready, true);
  consumer.emit(EVENTS.REBALANCING);
  assert.equal(state.ready, false);
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: {} });
  // kafkajs' own restart: STOP, CRASH with restart, then a new join without any start event.
  consumer.emit(EVENTS.STOP);
  consumer.emit(EVENTS.CRASH, { error: new Error('coordinator gone'), restart: true });
  assert.equal(state.ready, false);
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: { images: [0] } });
  assert.equal(state.ready, true);
  state.stopping();
  assert.equal(state.ready, false);
});

test('a crash kafkajs will not restart is restarted by the processor within the bound, then fatal', async () => {
  const { consumer, fatal, restarts, liveness } = setUp();
  consumer.emit(EVENTS.CRASH, { error: new Error('Broker 3 not found in the cached metadata'), restart: false });
  consumer.emit(EVENTS.CRASH, { error: new Error('again'), restart: false });
  assert.deepEqual([restarts.length, fatal.length], [2, 0]);
  assert.equal(liveness.report().ready, true);
  consumer.emit(EVENTS.CRASH, { error: new Error('third time'), restart: false });
  assert.equal(restarts.length, 2);
  assert.match(fatal[0] ?? '', /the input consumer crashed and will not restart: third time/);
  assert.match(liveness.report().failing.consumer ?? '', /crashed for good: third time/);
});

test('kafkajs restarts count in the same bound', async () => {
  const { state } = setUp({ staleAfterMs: 60_000, stallRestartMs: 0, maxRestarts: 1, restartWindowMs: 60_000 });
  assert.equal(await state.restartOnFailure(new Error('a')), true);
  assert.equal(await state.restartOnFailure(new Error('b')), false);
});

test('silence from the broker past staleAfterMs is not ready; heartbeats count while a batch is processed', async () => {
  const { state, consumer } = setUp({ staleAfterMs: 50, stallRestartMs: 0, maxRestarts: 2, restartWindowMs: 60_000 });
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: {} });
  assert.equal(state.ready, true);
  const later = Date.now() + 120;
  while (Date.now() < later) await new Promise((r) => setImmediate(r));
  assert.equal(state.ready, false);
  consumer.emit(EVENTS.START_BATCH_PROCESS);
  consumer.emit(EVENTS.HEARTBEAT);
  assert.equal(state.ready, true);
  consumer.emit(EVENTS.END_BATCH_PROCESS);
  assert.equal(state.ready, false, 'no batch in progress: a fetch is needed');
  consumer.emit(EVENTS.FETCH);
  assert.equal(state.ready, true);
  state.stopping();
});

test('a member silent past stallRestartMs is replaced by a new consumer once per stall, counted in the restart bound', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  const { state, consumer, fatal, restarts } = setUp({ staleAfterMs: 5000, stallRestartMs: 30_000, maxRestarts: 1, restartWindowMs: 600_000 });
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: { images: [0] } });
  t.mock.timers.tick(6000);
  assert.equal(state.ready, false, 'stale after staleAfterMs');
  assert.equal(restarts.length, 0, 'not replaced before stallRestartMs');
  t.mock.timers.tick(25_000);
  assert.equal(restarts.length, 1, 'replaced after stallRestartMs of silence');
  t.mock.timers.tick(60_000);
  assert.equal(restarts.length, 1, 'once per stall: the new consumer has not joined yet');
  // The new consumer joins and fetches, then stalls again: past the bound it is fatal.
  state.attach(consumer as never);
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: { images: [0] } });
  assert.equal(state.ready, true);
  t.mock.timers.tick(31_000);
  assert.equal(restarts.length, 1);
  assert.match(fatal[0] ?? '', /stalled: no fetch answered for 3\d s/);
});

test('stallRestartMs 0 never replaces a silent member', (t) => {
  t.mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_000_000 });
  const { consumer, restarts, fatal } = setUp({ staleAfterMs: 5000, stallRestartMs: 0, maxRestarts: 5, restartWindowMs: 600_000 });
  consumer.emit(EVENTS.GROUP_JOIN, { memberAssignment: { images: [0] } });
  t.mock.timers.tick(600_000);
  assert.deepEqual([restarts.length, fatal.length], [0, 0]);
});
