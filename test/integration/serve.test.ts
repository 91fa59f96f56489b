/**
 * `clipn serve` against the real broker: nothing lost (results or DLQ for every input), every
 * routed result in the review topic, label-set and prompt swaps mid-stream, SIGTERM drain, and
 * exactly-once across kill -9.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { createCodec } from '../../src/codec/index.js';
import { ClipnError } from '../../src/errors.js';
import { readPrompt, loadBundle } from '../../src/model/index.js';
import { DURING_MODEL_LOAD, sigtermAt, spawnClipn } from './helpers/clipn-process.js';
import { collect, createTopics, produce, testKafka, uniqueName, until } from './helpers/kafka.js';
import { demoImages, inProcessSidecar, sidecarEnv, sidecarTopicSpecs, stopServe, testTopics, type TestTopics } from './helpers/sidecar.js';
import { ROOT } from '../helpers/clipn-cli.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
const images = demoImages();
const ID_LABELS = ['circle', 'square', 'triangle', 'star', 'cross', 'ring'];

async function setUp(topics: TestTopics): Promise<void> {
  await createTopics(kafka, sidecarTopicSpecs(topics, 3));
}

async function putLabelSet(topics: TestTopics, id: string, version: number, labels: string[], rule = 'atd', thresholds: { ctwLogOdds: number | null; atdLogOdds: number | null } | null = null): Promise<void> {
  const value = await codec.encode('LabelSet', { id, version, labels, templates: null, routing: { rule, params: {} }, thresholds, description: null, updatedAt: Date.now() });
  await produce(kafka, topics.labelSets, [{ key: id, value }]);
}

const decode = async (m: KafkaMessage, name: 'TaggedImage' | 'ReviewItem' | 'DeadLetter') => (await codec.decode(m.value!, name)).value as Record<string, any>;

/** ID and OOD images, plus corrupt inputs, as raw-bytes messages with ids in headers. */
function mixedInputs(n: number, tag: string): Array<{ key: string; value: Buffer; headers: Record<string, string>; kind: 'ok' | 'corrupt' }> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const id = `${tag}-${i}`;
    if (i % 25 === 7) out.push({ key: id, value: images[i % images.length]!.bytes.subarray(0, 100), headers: { 'clipn-id': id }, kind: 'corrupt' as const });
    else if (i % 25 === 13) out.push({ key: id, value: Buffer.from('this is not an image'), headers: { 'clipn-id': id }, kind: 'corrupt' as const });
    else out.push({ key: id, value: images[(i * 7) % images.length]!.bytes, headers: { 'clipn-id': id, 'content-type': 'image/png' }, kind: 'ok' as const });
  }
  return out;
}

const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';

before(async () => {
  assert.ok(images.length > 100, 'the demo held-out images are needed (models/demo-heldout)');
});

test('1000 mixed inputs: every one accounted for in results or DLQ, every routed one reviewed', { timeout: 240_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  // Calibrated routing on the ATD score, strict enough that part of the stream goes to review
  // whatever the demo model's default decisions are.
  await putLabelSet(topics, 'default', 1, ID_LABELS, 'calibrated', { ctwLogOdds: null, atdLogOdds: 13.8 }); // ATD 0.999999
  const { sidecar } = inProcessSidecar(sidecarEnv(topics, uniqueName('g')));
  const [results, review, dlq] = await Promise.all([collect(kafka, topics.results), collect(kafka, topics.review), collect(kafka, topics.deadLetter)]);
  try {
    await sidecar.start();
    const inputs = mixedInputs(1000, 'mix');
    await produce(kafka, topics.input, inputs);
    const expectedOk = inputs.filter((i) => i.kind === 'ok').length;
    const expectedBad = inputs.length - expectedOk;
    await results.waitFor(`${expectedOk} results`, (ms) => new Set(ms.map(idOf)).size >= expectedOk, 180_000);
    await dlq.waitFor(`${expectedBad} dead letters`, (ms) => new Set(ms.map(idOf)).size >= expectedBad, 60_000);
    const accounted = new Set([...results.messages, ...dlq.messages].map(idOf));
    for (const i of inputs) assert.ok(accounted.has(i.key), `input ${i.key} is neither in results nor in the DLQ`);
    // Dead letters carry the code and the original value.
    for (const m of dlq.messages) {
      const letter = await decode(m, 'DeadLetter');
      assert.match(letter.errorCode, /^IMAGE_(TRUNCATED|UNSUPPORTED_FORMAT|DECODE_FAILED)$/);
      assert.ok(letter.originalValue.length > 0);
    }
    const routed = new Set<string>();
    let oodImagesFlagged = 0;
    for (const m of results.messages) {
      const r = await decode(m, 'TaggedImage');
      assert.equal(r.labelSet.id, 'default');
      if (r.routed) routed.add(r.id);
      if (r.ood.atd) oodImagesFlagged++;
    }
    assert.ok(routed.size > 0, 'some images are routed to review');
    await review.waitFor(`${routed.size} review items`, (ms) => new Set(ms.map(idOf)).size >= routed.size, 60_000);
    const reviewed = new Set(review.messages.map(idOf));
    for (const id of routed) assert.ok(reviewed.has(id), `routed result ${id} has no review item`);
    const item = await decode(review.messages[0]!, 'ReviewItem');
    assert.equal(item.imageEmbedding.length, 128);
    assert.equal(item.rule, 'calibrated');
    assert.ok(oodImagesFlagged >= routed.size);
  } finally {
    await sidecar.stop();
    await Promise.all([results.stop(), review.stop(), dlq.stop()]);
  }
});

test('a label-set change and a prompt release mid-stream take effect without a restart', { timeout: 240_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  await putLabelSet(topics, 'default', 1, ID_LABELS);
  const { sidecar, logs } = inProcessSidecar(sidecarEnv(topics, uniqueName('g')));
  const results = await collect(kafka, topics.results);
  try {
    await sidecar.start();
    const batch = (tag: string) => mixedInputs(60, tag).filter((i) => i.kind === 'ok');
    const first = batch('a');
    await produce(kafka, topics.input, first);
    await results.waitFor('first results', (ms) => ms.length >= first.length, 60_000);

    await putLabelSet(topics, 'default', 2, [...ID_LABELS.slice(0, 3), 'banana']);
    await until('label set v2 in service', () => sidecar.state!.current.labelSets.get('default')?.labelSet.version === 2, 30_000);
    const second = batch('b');
    await produce(kafka, topics.input, second);
    await results.waitFor('second results', (ms) => ms.length >= first.length + second.length, 60_000);

    // A bad release (hash does not match) is refused; the model keeps serving.
    const bundle = await loadBundle(`${ROOT}/models/demo`);
    const prompt = await readPrompt(bundle);
    const scaled = Float32Array.from(prompt, (v, i) => v + 0.05 * Math.sin(i));
    const data = Buffer.from(scaled.buffer);
    const release = (version: string, sha: string) =>
      codec.encode('ModelRelease', {
        model: 'demo', version, parentVersion: bundle.manifest.prompt.version, kind: 'prompt', baseModelVersion: bundle.manifest.modelVersion,
        prompt: { shape: [...bundle.manifest.prompt.shape], dtype: 'float32', data, sha256: sha }, artifact: null,
        lineage: { sampleCount: 0, metrics: {}, kernelArgs: {} }, createdAt: Date.now(),
      });
    await produce(kafka, topics.modelReleases, [{ key: 'demo', value: await release('demo-test/bad', 'f'.repeat(64)) }]);
    await until('the bad release refused', () => logs.some((l) => l.includes('release refused') && l.includes('does not match')), 30_000);
    const goodVersion = `${bundle.manifest.modelVersion}/test-p1`;
    await produce(kafka, topics.modelReleases, [{ key: 'demo', value: await release(goodVersion, createHash('sha256').update(data).digest('hex')) }]);
    await until('the prompt release in service', () => sidecar.state!.current.classifier.promptVersion === goodVersion, 30_000);
    const third = batch('c');
    await produce(kafka, topics.input, third);
    await results.waitFor('third results', (ms) => ms.length >= first.length + second.length + third.length, 60_000);

    const byTag = new Map<string, Array<Record<string, any>>>();
    for (const m of results.messages) {
      const r = await decode(m, 'TaggedImage');
      const tag = r.id.split('-')[0];
      byTag.set(tag, [...(byTag.get(tag) ?? []), r]);
    }
    assert.ok(byTag.get('a')!.every((r) => r.labelSet.version === 1 && r.model.promptVersion === bundle.manifest.prompt.version));
    assert.ok(byTag.get('b')!.every((r) => r.labelSet.version === 2 && r.model.promptVersion === bundle.manifest.prompt.version));
    assert.ok(byTag.get('c')!.every((r) => r.labelSet.version === 2 && r.model.promptVersion === goodVersion));
    assert.ok(byTag.get('b')!.some((r) => r.label === 'banana' || r.top.some((t: { label: string }) => t.label === 'banana')), 'the new label is scored');
  } finally {
    await sidecar.stop();
    await results.stop();
  }
});

test('SIGTERM mid-stream drains; after a restart nothing is missing', { timeout: 240_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  await putLabelSet(topics, 'default', 1, ID_LABELS);
  const env = sidecarEnv(topics, uniqueName('g'));
  const results = await collect(kafka, topics.results);
  try {
    const inputs = mixedInputs(600, 'term').filter((i) => i.kind === 'ok');
    await produce(kafka, topics.input, inputs);
    const first = spawnClipn(['serve'], env);
    await results.waitFor('some results before SIGTERM', (ms) => ms.length >= 50, 90_000);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, `serve exits 0 on SIGTERM; output:\n${first.output().slice(-2000)}`);
    const before = new Set(results.messages.map(idOf)).size;
    assert.ok(before < inputs.length, 'SIGTERM arrived mid-stream');
    const second = spawnClipn(['serve'], env);
    await results.waitFor(`all ${inputs.length} ids`, (ms) => new Set(ms.map(idOf)).size >= inputs.length, 120_000);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    const seen = new Set(results.messages.map(idOf));
    for (const i of inputs) assert.ok(seen.has(i.key), `${i.key} missing after restart`);
  } finally {
    await results.stop();
  }
});

test('SIGTERM during the start (model load, waiting for the default label set) exits 0', { timeout: 180_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  // No label set on the topic: the start would wait for the default one for ever.
  const env = sidecarEnv(topics, uniqueName('g'), { CLIPN_TELEMETRY__LOG_LEVEL: 'info' });
  // The load runs in the inference worker: an exit while onnxruntime-node is inside a call there aborts the process.
  const waiting = { moment: 'the wait for the default label set', seen: (out: string) => out.includes('default label set not on the label-set topic yet') };
  for (const { moment, code, output } of await sigtermAt(() => spawnClipn(['serve'], env), [...DURING_MODEL_LOAD, waiting])) {
    assert.equal(code, 0, `SIGTERM at ${moment}: serve exits 0; output:\n${output.slice(-3000)}`);
    assert.match(output, /stopped cleanly/, `SIGTERM at ${moment}: a clean stop is logged`);
    assert.doesNotMatch(output, /start failed|"consuming"/, `SIGTERM at ${moment}: the start ends without an error and never consumes`);
  }
});

test('stop() during start(): the start rejects with INTERRUPTED, the stop closes the model', { timeout: 120_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  const { sidecar, logs } = inProcessSidecar(sidecarEnv(topics, uniqueName('g')));
  const started = sidecar.start();
  const outcome = started.then(() => 'started', (error: unknown) => error);
  await until('the wait for the default label set', () => logs.some((l) => l.includes('default label set not on the label-set topic yet')), 90_000, 5);
  await sidecar.stop();
  const error = await outcome;
  assert.ok(error instanceof ClipnError, `start() rejects with a ClipnError, got ${String(error)}`);
  assert.equal(error.code, 'INTERRUPTED');
  // The model was closed: its sessions refuse work with a coded error.
  const classifier = sidecar.state!.current.classifier;
  const size = classifier.preprocessSpec.imageSize;
  await assert.rejects(classifier.embed(new Float32Array(3 * size * size), 1), (e: unknown) => e instanceof ClipnError);
});

test('a drain past shutdownTimeoutMs exits 1 with SHUTDOWN_TIMEOUT (not an abort); a restart delivers the rest', { timeout: 240_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  await putLabelSet(topics, 'default', 1, ID_LABELS);
  const group = uniqueName('g');
  const results = await collect(kafka, topics.results);
  try {
    const inputs = mixedInputs(400, 'late').filter((i) => i.kind === 'ok');
    await produce(kafka, topics.input, inputs);
    // 1 ms: the drain cannot finish, so the stop fails while batches are still in the inference worker.
    const first = spawnClipn(['serve'], sidecarEnv(topics, group, { CLIPN_PROCESSING__SHUTDOWN_TIMEOUT_MS: '1' }));
    await results.waitFor('some results before SIGTERM', (ms) => ms.length >= 30, 90_000);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 1, `a failed shutdown exits 1; output:\n${first.output().slice(-2000)}`);
    assert.match(first.output(), /SHUTDOWN_TIMEOUT/);
    assert.doesNotMatch(first.output(), /terminate called/);
    const second = spawnClipn(['serve'], sidecarEnv(topics, group));
    await results.waitFor(`all ${inputs.length} ids`, (ms) => new Set(ms.map(idOf)).size >= inputs.length, 120_000);
    await stopServe(second);
  } finally {
    await results.stop();
  }
});

test('exactly-once: a read_committed consumer sees each input once across kill -9 and restart', { timeout: 240_000 }, async () => {
  const topics = testTopics();
  await setUp(topics);
  await putLabelSet(topics, 'default', 1, ID_LABELS);
  const env = sidecarEnv(topics, uniqueName('g'), { CLIPN_PROCESSING__DELIVERY: 'exactly-once', CLIPN_KAFKA__CLIENT_ID: uniqueName('eos') });
  const committed = await collect(kafka, topics.results, { readCommitted: true });
  try {
    const inputs = mixedInputs(500, 'eos').filter((i) => i.kind === 'ok');
    await produce(kafka, topics.input, inputs);
    const first = spawnClipn(['serve'], env);
    await committed.waitFor('some committed results', (ms) => ms.length >= 40, 90_000);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = spawnClipn(['serve'], env);
    await committed.waitFor(`all ${inputs.length} ids`, (ms) => new Set(ms.map(idOf)).size >= inputs.length, 150_000);
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0);
    const counts = new Map<string, number>();
    for (const m of committed.messages) counts.set(idOf(m), (counts.get(idOf(m)) ?? 0) + 1);
    const dupes = [...counts].filter(([, c]) => c > 1);
    assert.deepEqual(dupes, [], 'no input is seen twice by a read_committed consumer');
    assert.equal(counts.size, inputs.length);
  } finally {
    await committed.stop();
  }
});

after(() => undefined);
