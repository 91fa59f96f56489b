/**
 * Plugins in a real `clipn serve` (real broker): the example plugin loaded from its path outside
 * src adds a field to every result; the webhook plugin posts signed review items to a local HTTP
 * server, retries its failures, and a delivery that never succeeds becomes a dead letter naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KafkaMessage } from 'kafkajs';
import { createCodec } from '../../src/codec/index.js';
import { WEBHOOK_HEADERS, webhookSignature } from '../../plugins/webhook/index.js';
import { collect, createTopics, produce, testKafka, uniqueName } from './helpers/kafka.js';
import { demoImages, putLabelSet, sidecarEnv, sidecarTopicSpecs, startServe, stopServe, testTopics, type TestTopics } from './helpers/sidecar.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
const images = demoImages();
const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';
const LABELS = ['circle', 'square', 'triangle', 'star', 'cross', 'ring'];

async function setUp(rule: 'atd' | 'calibrated'): Promise<TestTopics> {
  const topics = testTopics();
  await createTopics(kafka, sidecarTopicSpecs(topics, 3));
  // Calibrated at ATD log-odds 500 (far above any image's): every image goes to review.
  await putLabelSet(kafka, topics.labelSets, { id: 'default', labels: LABELS, rule, thresholds: rule === 'calibrated' ? { ctwLogOdds: null, atdLogOdds: 500 } : null });
  return topics;
}

const inputs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ key: `${tag}-${i}`, value: images[(i * 5) % images.length]!.bytes, headers: { 'clipn-id': `${tag}-${i}` } }));

test('the example plugin, loaded from its path outside src, adds a field to every result', { timeout: 180_000 }, async () => {
  const topics = await setUp('atd');
  const results = await collect(kafka, topics.results);
  const modules = [{ module: './plugins/examples/add-field/index.ts', options: { fields: { stage: 'ingest', cluster: 'test' }, labelKey: 'class' } }];
  const serve = await startServe(sidecarEnv(topics, uniqueName('g'), { CLIPN_PLUGINS__MODULES: JSON.stringify(modules) }));
  try {
    const sent = inputs(30, uniqueName('field'));
    await produce(kafka, topics.input, sent);
    await results.waitFor('30 results', (ms) => sent.every((s) => ms.some((m) => idOf(m) === s.key)), 60_000);
    for (const m of results.messages) {
      const r = (await codec.decode(m.value!, 'TaggedImage')).value as { label: string; metadata: Record<string, string> };
      assert.deepEqual(r.metadata, { stage: 'ingest', cluster: 'test', class: r.label });
    }
    assert.match(serve.output(), /"plugins":\["clipn","add-field"\]/);
  } finally {
    await stopServe(serve);
    await results.stop();
  }
});

test('the webhook plugin: signed posts verified by the receiver, failures retried, a delivery that never succeeds is dead-lettered naming the plugin', { timeout: 240_000 }, async () => {
  const secret = 'a-webhook-secret-of-some-length';
  const received = new Map<string, number>();
  const attempts = new Map<string, number>();
  const badSignatures: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = String(req.headers[WEBHOOK_HEADERS.id]);
      const timestamp = String(req.headers[WEBHOOK_HEADERS.timestamp]);
      if (req.headers[WEBHOOK_HEADERS.signature] !== webhookSignature(secret, timestamp, body)) badSignatures.push(id);
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      // Every item fails twice before it is taken; items whose id says "dead" never are.
      if (id.includes('dead') || n <= 2) {
        res.writeHead(503).end();
        return;
      }
      const item = JSON.parse(body) as { id: string; imageEmbedding: number[] };
      assert.equal(item.id, id);
      received.set(id, (received.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const topics = await setUp('calibrated');
  const [results, review, dlq] = await Promise.all([collect(kafka, topics.results), collect(kafka, topics.review), collect(kafka, topics.deadLetter)]);
  const modules = [{ module: './plugins/webhook/index.ts', options: { url: `http://127.0.0.1:${port}/hook`, secretEnv: 'TEST_WEBHOOK_SECRET', attempts: 4, initialBackoffMs: 20 } }];
  const serve = await startServe({ ...sidecarEnv(topics, uniqueName('g')), CLIPN_PLUGINS__MODULES: JSON.stringify(modules), TEST_WEBHOOK_SECRET: secret });
  try {
    const ok = inputs(12, uniqueName('hook'));
    const dead = inputs(2, uniqueName('dead'));
    await produce(kafka, topics.input, [...ok, ...dead]);
    await dlq.waitFor('2 dead letters for the undeliverable items', (ms) => dead.every((d) => ms.some((m) => idOf(m) === d.key)), 60_000);
    // The partitions progress independently: the dead letters can come before other partitions' items.
    await review.waitFor('every delivered item on the review topic (the built-in sink)', (ms) => ok.every((o) => ms.some((m) => idOf(m) === o.key)), 60_000);
    await results.waitFor('results for the delivered items', (ms) => ok.every((o) => ms.some((m) => idOf(m) === o.key)), 60_000);
    const reviewed = ok.filter((o) => review.messages.some((r) => idOf(r) === o.key));
    assert.equal(reviewed.length, ok.length);
    for (const o of reviewed) {
      assert.equal(received.get(o.key), 1, `${o.key} delivered once`);
      assert.equal(attempts.get(o.key), 3, `${o.key}: two failures, then the delivery`);
    }
    assert.deepEqual(badSignatures, []);
    for (const m of dlq.messages.filter((x) => dead.some((d) => d.key === idOf(x)))) {
      const letter = (await codec.decode(m.value!, 'DeadLetter')).value as { errorCode: string; errorMessage: string; originalValue: Buffer };
      assert.equal(letter.errorCode, 'PLUGIN_FAILED');
      assert.match(letter.errorMessage, /plugin webhook \(review sink\): .*no delivery after 4 attempts \(last: HTTP 503\)/);
      assert.ok(letter.originalValue.length > 0, 'the input is kept for a replay');
      assert.equal(attempts.get(idOf(m)), 4);
    }
    // A failed plugin step fails the message: no result for it, only the dead letter.
    for (const d of dead) assert.ok(!results.messages.some((m) => idOf(m) === d.key));
  } finally {
    await stopServe(serve);
    await Promise.all([results.stop(), review.stop(), dlq.stop()]);
    await new Promise((r) => server.close(r));
  }
});
