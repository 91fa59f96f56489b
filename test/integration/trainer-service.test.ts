/**
 * The long-running trainer (`clipn train` without --once) as production starts it, in-process:
 * it creates its topics as kafka.newTopics says, serves /readyz, and reports ready once the
 * model is loaded and its consumer has joined its group.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../src/telemetry/logger.js';
import { TrainerService } from '../../src/trainer/index.js';
import { testKafka, uniqueName } from './helpers/kafka.js';
import { DURING_MODEL_LOAD, sigtermAt, spawnClipn } from './helpers/clipn-process.js';
import { httpStatus } from './helpers/process-probe.js';
import { testConfig, testTopics } from './helpers/sidecar.js';
import { trainerEnv } from './helpers/trainer.js';
import { until } from './helpers/wait-for-messages.js';

test('the trainer creates its topics, then reports ready: model loaded and consumer group joined', { timeout: 120_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'clipn-trainer-service-'));
  const topics = { ...testTopics(), decisions: uniqueName('t-decisions') };
  const config = testConfig(trainerEnv(topics, join(work, 'samples'), join(work, 'artifacts'), { CLIPN_KAFKA__NEW_TOPICS__PARTITIONS: '3' }));
  const lines: Array<{ msg: string; port?: number }> = [];
  const logger = createLogger({ level: 'info', serviceName: 'test', destination: { write: (l: string) => (lines.push(JSON.parse(l) as { msg: string }), true) } });
  const trainer = new TrainerService({ config, logger, root: process.cwd() });
  const kafka = testKafka();
  const admin = kafka.admin();
  try {
    await trainer.start();
    const port = trainer.httpPort!;
    assert.equal(lines.find((l) => l.msg === 'health endpoint listening')?.port, port);
    assert.ok(lines.some((l) => l.msg === 'model loaded'));
    await until('the trainer ready', async () => (await httpStatus(port, '/readyz', 1000)) === 200, 60_000, 200);
    assert.deepEqual(trainer.readiness.report(), { ready: true, failing: {}, passing: ['model', 'consumer-group'] });
    await admin.connect();
    const { topics: created } = await admin.fetchTopicMetadata({ topics: [topics.review, topics.decisions, topics.labelSets, topics.modelReleases] });
    const partitions = new Map(created.map((t) => [t.name, t.partitions.length]));
    assert.deepEqual([topics.review, topics.decisions, topics.labelSets, topics.modelReleases].map((t) => partitions.get(t)), [3, 3, 1, 1], 'stream topics as kafka.newTopics says, side channels one partition');
  } finally {
    await admin.disconnect();
    await trainer.stop();
    rmSync(work, { recursive: true, force: true });
  }
});

test('SIGTERM during the trainer\'s model load exits 0', { timeout: 180_000 }, async () => {
  const work = mkdtempSync(join(tmpdir(), 'clipn-trainer-sigterm-'));
  const topics = { ...testTopics(), decisions: uniqueName('t-decisions') };
  const env = trainerEnv(topics, join(work, 'samples'), join(work, 'artifacts'), { CLIPN_TELEMETRY__LOG_LEVEL: 'info' });
  try {
    // The model loads in the inference worker: an exit while onnxruntime-node is inside a call there aborts the process.
    for (const { moment, code, output } of await sigtermAt(() => spawnClipn(['train'], env), DURING_MODEL_LOAD)) {
      assert.equal(code, 0, `SIGTERM at ${moment}: train exits 0; output:\n${output.slice(-3000)}`);
      assert.match(output, /stopped cleanly/, `SIGTERM at ${moment}: a clean stop is logged`);
      assert.doesNotMatch(output, /train failed/, `SIGTERM at ${moment}: the start ends without an error`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
