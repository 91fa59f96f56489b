/**
 * Faults (real brokers, `clipn serve` as child processes): SIGTERM mid-batch commits what it
 * delivered, a broker outage is survived with honest readiness, and a consumer that cannot go on
 * turns the probes red or exits non-zero. Every test is bounded in time and stops by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { collect, createTopics, produce, testKafka, uniqueName, until } from './helpers/kafka.js';
import { ownBroker } from './helpers/own-broker.js';
import { httpStatus } from './helpers/process-probe.js';
import { demoImages, putLabelSet, sidecarEnv, sidecarTopicSpecs, startServe, stopServe, testTopics, type TestTopics } from './helpers/sidecar.js';

const kafka = testKafka();
const images = demoImages();
const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';
const LABELS = ['circle', 'square', 'triangle', 'star', 'cross', 'ring'];

async function setUp(client: Kafka, inputPartitions = 3): Promise<TestTopics> {
  const topics = testTopics();
  await createTopics(client, sidecarTopicSpecs(topics, inputPartitions));
  await putLabelSet(client, topics.labelSets, { id: 'default', labels: LABELS });
  return topics;
}

const inputs = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => ({ key: `${tag}-${i}`, value: images[(i * 7) % images.length]!.bytes, headers: { 'clipn-id': `${tag}-${i}` } }));

/** How often each id appears. */
function counts(messages: readonly KafkaMessage[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of messages) out.set(idOf(m), (out.get(idOf(m)) ?? 0) + 1);
  return out;
}

test('SIGTERM mid-batch in at-least-once mode, three times, then a restart: no input is processed twice', { timeout: 420_000 }, async () => {
  const topics = await setUp(kafka);
  const env = sidecarEnv(topics, uniqueName('g'), { CLIPN_PROCESSING__MAX_WAIT_MS: '50' });
  const results = await collect(kafka, topics.results);
  try {
    const all = inputs(900, uniqueName('term'));
    await produce(kafka, topics.input, all);
    for (const target of [100, 350, 600]) {
      const serve = await startServe(env);
      await results.waitFor(`${target} results before SIGTERM`, (ms) => ms.length >= target, 120_000);
      await stopServe(serve);
      assert.ok(new Set(results.messages.map(idOf)).size < all.length, 'SIGTERM arrived mid-stream');
    }
    const last = await startServe(env);
    await results.waitFor(`all ${all.length} ids`, (ms) => new Set(ms.map(idOf)).size >= all.length, 180_000);
    await stopServe(last);
    const seen = counts(results.messages);
    const twice = [...seen].filter(([, c]) => c > 1);
    console.log(`SIGTERM x3: ${all.length} inputs, ${results.messages.length} results, ${twice.length} processed twice`);
    assert.deepEqual(twice, [], 'the group committed everything delivered before each exit');
    assert.equal(seen.size, all.length);
  } finally {
    await results.stop();
  }
});

test('the broker stopped for 10 s in the middle of 1000 images: nothing lost, /readyz 503 during the outage and 200 after, processing resumes within 30 s', { timeout: 420_000 }, async () => {
  const broker = ownBroker(29092);
  await broker.start();
  let serve: Awaited<ReturnType<typeof startServe>> | null = null;
  try {
    const topics = await setUp(broker.kafka);
    const env = { ...sidecarEnv(topics, uniqueName('g')), CLIPN_KAFKA__BROKERS: broker.address, CLIPN_PROCESSING__MAX_WAIT_MS: '50' };
    const all = inputs(1000, uniqueName('outage'));
    serve = await startServe(env);
    const results = await collect(broker.kafka, topics.results);
    // Paced, so that the outage falls in the middle of the stream.
    const producing = (async () => {
      for (let i = 0; i < all.length; i += 50) await produce(broker.kafka, topics.input, all.slice(i, i + 50));
    })();
    await results.waitFor('300 results before the outage', (ms) => ms.length >= 300, 120_000);
    await producing;
    await results.stop();
    const port = serve.port;
    const statuses: Array<{ at: number; status: number }> = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        statuses.push({ at: Date.now(), status: await httpStatus(port, '/readyz', 2000) });
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    const down = Date.now();
    await broker.stop();
    await until('/readyz 503 while the broker is down', () => statuses.some((s) => s.at > down && s.status === 503), 15_000, 100);
    const stillDown = 10_000 - (Date.now() - down);
    if (stillDown > 0) await until('the outage lasted 10 s', () => Date.now() - down >= 10_000, stillDown + 1000, 100);
    await broker.start();
    const up = Date.now();
    await until('/readyz 200 after the broker is back', () => statuses.some((s) => s.at > up && s.status === 200), 60_000, 100);
    const readyAfterMs = statuses.find((s) => s.at > up && s.status === 200)!.at - up;
    probing = false;
    await probe;
    assert.equal(serve.child.exitCode, null, `serve is still running; output:\n${serve.output().slice(-2000)}`);
    const after = await collect(broker.kafka, topics.results);
    await after.waitFor(`all ${all.length} ids after the outage`, (ms) => new Set(ms.map(idOf)).size >= all.length, 180_000);
    const firstNew = after.messages.filter((m) => Number(m.timestamp) > up).map((m) => Number(m.timestamp)).sort((a, b) => a - b)[0];
    const resumedMs = firstNew === undefined ? null : firstNew - up;
    const seen = counts(after.messages);
    console.log(`broker outage: 503 within ${statuses.find((s) => s.at > down && s.status === 503)!.at - down} ms; ready ${readyAfterMs} ms after the broker was back; ` +
      `first new result ${resumedMs} ms after; ${after.messages.length} results for ${all.length} inputs (${[...seen.values()].filter((c) => c > 1).length} twice)`);
    await after.stop();
    assert.equal(seen.size, all.length, 'nothing lost');
    // Every input may have been done before the outage ended: then there is nothing to resume.
    if (resumedMs !== null) assert.ok(resumedMs < 30_000, `processing resumed ${resumedMs} ms after the broker was back`);
    await stopServe(serve);
    serve = null;
  } finally {
    if (serve !== null) serve.child.kill('SIGKILL');
    await broker.remove();
  }
});

test('a fatal consumer error (the input topic deleted on a broker that does not auto-create topics): /readyz 503 within 15 s, then a non-zero exit or /healthz 503 within 120 s', { timeout: 300_000 }, async () => {
  const broker = ownBroker(29192, { autoCreateTopics: false });
  await broker.start();
  let serve: Awaited<ReturnType<typeof startServe>> | null = null;
  try {
    const topics = await setUp(broker.kafka);
    serve = await startServe({
      ...sidecarEnv(topics, uniqueName('g')),
      CLIPN_KAFKA__BROKERS: broker.address,
      // Stated times: kafkajs gives up on a request after kafka.retry.retries (2 here, with backoff
      // up to a few seconds), the consumer then crashes; one restart is allowed, the next crash is fatal.
      CLIPN_KAFKA__RETRY__RETRIES: '2',
      CLIPN_KAFKA__RETRY__MAX_RETRY_TIME_MS: '5000',
      CLIPN_KAFKA__CONSUMER__MAX_RESTARTS: '1',
      CLIPN_KAFKA__CONSUMER__RESTART_WINDOW_MS: '600000',
    });
    const s = serve;
    await produce(broker.kafka, topics.input, inputs(20, uniqueName('fatal')));
    const admin = broker.kafka.admin();
    await admin.connect();
    const deleted = Date.now();
    await admin.deleteTopics({ topics: [topics.input] }).finally(() => admin.disconnect());
    await until('/readyz 503 after the input topic is gone', async () => s.child.exitCode !== null || (await httpStatus(s.port, '/readyz', 1000)) === 503, 15_000, 200);
    const notReadyMs = Date.now() - deleted;
    await until('a non-zero exit or /healthz 503', async () => (s.child.exitCode !== null && s.child.exitCode !== 0) || (await httpStatus(s.port, '/healthz', 1000)) === 503, 120_000, 500);
    console.log(`input topic deleted: /readyz 503 after ${notReadyMs} ms, then ${s.child.exitCode === null ? '/healthz 503' : `exit ${s.child.exitCode}`} after ${Date.now() - deleted} ms`);
    if (s.child.exitCode === null) await until('the process exits non-zero after /healthz failed', () => s.child.exitCode !== null, 60_000, 200);
    assert.notEqual(s.child.exitCode, 0, `serve exits non-zero; output:\n${s.output().slice(-2000)}`);
  } finally {
    if (serve !== null && serve.child.exitCode === null) serve.child.kill('SIGKILL');
    await broker.remove();
  }
});
