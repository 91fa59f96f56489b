import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readyWhen, startHealthEndpoint } from '../../../src/service/assembly/health.js';
import { HealthChecks } from '../../../src/telemetry/health.js';
import { createLogger } from '../../../src/telemetry/logger.js';

test('readyWhen passes the check once the condition holds, and stops asking', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const checks = new HealthChecks();
  const check = checks.register('consumer-group', 'not joined');
  let joined = false;
  let asked = 0;
  readyWhen(check, () => (asked++, joined), 5);
  t.mock.timers.tick(30);
  assert.equal(asked, 6, 'asked every 5 ms');
  assert.deepEqual(checks.report().failing, { 'consumer-group': 'not joined' });
  joined = true;
  t.mock.timers.tick(5);
  assert.equal(checks.isReady(), true);
  const after = asked;
  t.mock.timers.tick(30);
  assert.equal(asked, after, 'no polling once ready');
});

test('readyWhen stopped before the condition holds leaves the check failing', (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const checks = new HealthChecks();
  const stop = readyWhen(checks.register('x'), () => true, 5);
  stop();
  t.mock.timers.tick(20);
  assert.equal(checks.isReady(), false);
});

test('startHealthEndpoint answers /readyz and logs the port it listens on', async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'info', serviceName: 'test', destination: { write: (l: string) => (lines.push(l), true) } });
  const readiness = new HealthChecks();
  const http = await startHealthEndpoint({ host: '127.0.0.1', port: 0, readiness }, logger);
  try {
    assert.equal((await fetch(`http://127.0.0.1:${http.port}/readyz`)).status, 200);
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; port?: number }).find((l) => l.msg === 'health endpoint listening');
    assert.equal(logged?.port, http.port);
  } finally {
    await http.close();
  }
});
