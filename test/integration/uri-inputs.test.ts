/**
 * Image URIs against a local HTTP server (real broker, `clipn serve` as a child process): many
 * large bodies stay within the memory budget, and inputs dead-lettered while the server was down
 * are re-driven by `clipn dlq replay` once it is back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KafkaMessage } from 'kafkajs';
import sharp from 'sharp';
import { createCodec } from '../../src/codec/index.js';
import { noise } from './helpers/hostile-corpus.js';
import { collect, createTopics, produce, testKafka, uniqueName } from './helpers/kafka.js';
import { memoryOf } from './helpers/process-probe.js';
import { putLabelSet, sidecarEnv, sidecarTopicSpecs, startServe, stopServe, testTopics, type TestTopics } from './helpers/sidecar.js';
import { clipn } from '../helpers/clipn-cli.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
const MiB = 1024 * 1024;
const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';

async function setUp(): Promise<TestTopics> {
  const topics = testTopics();
  await createTopics(kafka, sidecarTopicSpecs(topics, 3));
  await putLabelSet(kafka, topics.labelSets, { id: 'default', labels: ['circle', 'square', 'triangle', 'star', 'cross', 'ring'] });
  return topics;
}

/** An HTTP server on 127.0.0.1 answering every GET with `body`; counts requests and the most at once. */
async function imageServer(body: Buffer, port = 0): Promise<{ server: Server; port: number; stats: { requests: number; open: number; mostOpen: number } }> {
  const stats = { requests: 0, open: 0, mostOpen: 0 };
  const server = createServer((_req, res) => {
    stats.requests++;
    stats.open++;
    stats.mostOpen = Math.max(stats.mostOpen, stats.open);
    res.on('close', () => stats.open--);
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, stats };
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/** ImageRequest records naming a URI each. */
async function uriRequests(ids: readonly string[], url: (id: string) => string) {
  return Promise.all(
    ids.map(async (id) => ({
      key: id,
      value: await codec.encode('ImageRequest', { id, image: { 'io.clipn.v1.ImageUri': { uri: url(id) } }, labelSetId: null, caption: null, metadata: {}, producedAt: Date.now() }),
      headers: { 'clipn-id': id },
    })),
  );
}

test('256 URI inputs of ~20 MiB bodies under a 256 MiB budget: all processed, RSS within budget + model + margin', { timeout: 600_000 }, async () => {
  // Noise does not compress: 2640 x 2640 RGB stored is 20.9 MB (19.9 MiB), under images.maxBytes.
  const side = 2640;
  const body = await sharp(noise(side * side * 3, 3), { raw: { width: side, height: side, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  assert.ok(body.length > 19.5 * MiB && body.length <= 20 * MiB, `body ${body.length} bytes`);
  const { server, port, stats } = await imageServer(body);
  const topics = await setUp();
  const results = await collect(kafka, topics.results);
  const budget = 256 * MiB;
  const serve = await startServe(sidecarEnv(topics, uniqueName('g'), { CLIPN_IMAGES__FETCH__ALLOW_PRIVATE_NETWORKS: 'true', CLIPN_PROCESSING__MEMORY__MAX_IN_FLIGHT_BYTES: String(budget) }));
  try {
    const baseline = memoryOf(serve.child.pid!).rss;
    const ids = Array.from({ length: 256 }, (_, i) => uniqueName(`u${i}`));
    const started = Date.now();
    await produce(kafka, topics.input, await uriRequests(ids, (id) => `http://127.0.0.1:${port}/img/${id}.png`));
    await results.waitFor('256 results', (ms) => ids.every((id) => ms.some((m) => idOf(m) === id)), 480_000);
    const seconds = (Date.now() - started) / 1000;
    const memory = memoryOf(serve.child.pid!);
    // Stated margin: 192 MiB above the loaded sidecar (model, Node, ONNX Runtime, libvips) and the
    // budget, for the allocator's and V8's slack: freed image buffers go back to the OS lazily.
    const bound = baseline + budget + 192 * MiB;
    console.log(`256 URI inputs of ${(body.length / MiB).toFixed(1)} MiB in ${seconds.toFixed(0)} s; ${stats.requests} fetches, at most ${stats.mostOpen} at once; ` +
      `RSS loaded ${(baseline / MiB).toFixed(0)} MiB, peak ${(memory.peak / MiB).toFixed(0)} MiB, bound ${(bound / MiB).toFixed(0)} MiB`);
    assert.ok(memory.peak <= bound, `peak RSS ${(memory.peak / MiB).toFixed(0)} MiB over ${(bound / MiB).toFixed(0)} MiB`);
    // The fetch budget (a quarter of 256 MiB) holds three 20 MiB bodies at a time. The server
    // counts a response done only when this process's event loop gets to its 'close' event, after
    // the sidecar has read the body, released its share and may have asked for the next: one
    // request in that hand-over can show in the count (seen once in CI); the peak RSS check above
    // is what bounds the bodies held.
    assert.ok(stats.mostOpen <= 4, `${stats.mostOpen} fetches at once`);
  } finally {
    await stopServe(serve);
    await results.stop();
    await close(server);
  }
});

test('clipn dlq replay: inputs dead-lettered while their URI server was down get results once it is back', { timeout: 300_000 }, async () => {
  const png = await sharp({ create: { width: 80, height: 60, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toBuffer();
  // A port nothing listens on yet: take a free one and close it.
  const probe = await imageServer(png);
  const port = probe.port;
  await close(probe.server);
  const topics = await setUp();
  const [results, dlq] = await Promise.all([collect(kafka, topics.results), collect(kafka, topics.deadLetter)]);
  const env = sidecarEnv(topics, uniqueName('g'), { CLIPN_IMAGES__FETCH__ALLOW_PRIVATE_NETWORKS: 'true', CLIPN_PROCESSING__RETRY__ATTEMPTS: '2', CLIPN_PROCESSING__RETRY__INITIAL_BACKOFF_MS: '50' });
  const serve = await startServe(env);
  let back: Server | null = null;
  try {
    const ids = Array.from({ length: 5 }, (_, i) => uniqueName(`down${i}`));
    const other = uniqueName('not-an-image');
    await produce(kafka, topics.input, [...(await uriRequests(ids, (id) => `http://127.0.0.1:${port}/${id}.png`)), { key: other, value: Buffer.from('plain text'), headers: { 'clipn-id': other } }]);
    await dlq.waitFor('6 dead letters', (ms) => [...ids, other].every((id) => ms.some((m) => idOf(m) === id)), 60_000);
    for (const m of dlq.messages.filter((x) => ids.includes(idOf(x)))) {
      const letter = (await codec.decode(m.value!, 'DeadLetter')).value as { errorCode: string; retriable: boolean };
      assert.equal(letter.errorCode, 'IMAGE_FETCH_FAILED');
      assert.equal(letter.retriable, true);
    }
    back = (await imageServer(png, port)).server;
    const cli = async (args: string[]) => {
      const r = await clipn(['dlq', 'replay', ...args], env);
      assert.equal(r.code, 0, r.stderr);
      return r;
    };
    const dry = await cli(['--code', 'IMAGE_FETCH_FAILED', '--dry-run', '--json']);
    const planned = dry.stdout.trim().split('\n').map((l) => JSON.parse(l) as { id: string; to: string; skipped: string | null });
    assert.deepEqual(planned.map((p) => p.id).sort(), [...ids].sort());
    assert.ok(planned.every((p) => p.to === topics.input && p.skipped === null));
    assert.equal(results.messages.filter((m) => ids.includes(idOf(m))).length, 0, 'a dry run produces nothing');
    const run = await cli(['--code', 'IMAGE_FETCH_FAILED']);
    assert.match(run.stderr, /replayed 5, skipped 0 of the 5 matching dead letters/);
    await results.waitFor('results for the 5 replayed inputs', (ms) => ids.every((id) => ms.some((m) => idOf(m) === id)), 60_000);
    // The text value was not chosen (another code): it stays a dead letter only.
    assert.ok(!results.messages.some((m) => idOf(m) === other));
  } finally {
    await stopServe(serve);
    await Promise.all([results.stop(), dlq.stop()]);
    if (back) await close(back);
  }
});
