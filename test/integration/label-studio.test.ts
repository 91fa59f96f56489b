/**
 * The label-studio plugin against a real Label Studio (scripts/label-studio.sh, its own port and
 * data folder) and the real broker: review items become tasks with predictions in a real `clipn
 * serve`, annotations submitted through Label Studio's API become ReviewDecision records that
 * `clipn train --once` counts as samples; Label Studio stopped while items arrive loses and
 * doubles nothing; `clipn review label-studio` (personal access token) commits after each task
 * and a second group re-delivering every item makes no second task.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { createCodec, type ReviewDecision, type ReviewItem } from '../../src/codec/index.js';
import { NONE_OF_THESE } from '../../plugins/label-studio/labeling.js';
import { collect, createTopics, produce, testKafka, uniqueName, until } from './helpers/kafka.js';
import { logLines, spawnClipn } from './helpers/clipn-process.js';
import { allTasks, LABEL_STUDIO_URL, lsApi, personalAccessToken, projectByTitle, startLabelStudio, stopLabelStudio } from './helpers/label-studio.js';
import { demoImages, putLabelSet, sidecarEnv, sidecarTopicSpecs, startServe, stopServe, testTopics, type TestTopics } from './helpers/sidecar.js';
import { ROOT } from '../helpers/clipn-cli.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
const images = demoImages();
const LABELS = JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'labels.json'), 'utf8')).labels as string[];
const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';
const work = mkdtempSync(join(tmpdir(), 'clipn-label-studio-'));

let token = '';
let startedHere = false;
const auth = (): string => `Token ${token}`;

before(async () => {
  const started = await startLabelStudio();
  token = started.token;
  startedHere = started.startedHere;
  process.stdout.write(`# Label Studio ${startedHere ? `started in ${(started.ms / 1000).toFixed(1)} s` : 'was already running'}\n`);
});

after(async () => {
  if (startedHere) await stopLabelStudio();
  rmSync(work, { recursive: true, force: true });
});

type Topics = TestTopics & { decisions: string };

async function setUp(): Promise<Topics> {
  const topics = { ...testTopics(), decisions: `${uniqueName('t')}.decisions` };
  await createTopics(kafka, [...sidecarTopicSpecs(topics, 3), { topic: topics.decisions }]);
  // Calibrated at ATD log-odds 500 (far above any image's): every image goes to review.
  await putLabelSet(kafka, topics.labelSets, { id: 'default', labels: LABELS, rule: 'calibrated', thresholds: { ctwLogOdds: null, atdLogOdds: 500 } });
  return topics;
}

const inputs = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ key: `${tag}-${i}`, value: images[(i * 7) % images.length]!.bytes, headers: { 'clipn-id': `${tag}-${i}` } }));

function serveEnv(topics: Topics, options: Record<string, unknown>): Record<string, string> {
  const modules = [{ module: './plugins/label-studio/index.ts', options: { url: LABEL_STUDIO_URL, tokenEnv: 'TEST_LABEL_STUDIO_TOKEN', ...options } }];
  return sidecarEnv(topics, uniqueName('g'), {
    CLIPN_PLUGINS__MODULES: JSON.stringify(modules),
    CLIPN_PROCESSING__REVIEW__IMAGE: 'inline',
    CLIPN_KAFKA__TOPICS__REVIEW_DECISIONS: topics.decisions,
    TEST_LABEL_STUDIO_TOKEN: token,
  });
}

test('30 review items become 30 tasks with predictions; 30 annotations become 30 ReviewDecisions that clipn train --once counts as samples', { timeout: 600_000 }, async () => {
  const topics = await setUp();
  const title = `${uniqueName('clipn-test')} {labelSet}`;
  const [results, review, decisions, dlq] = await Promise.all([collect(kafka, topics.results), collect(kafka, topics.review), collect(kafka, topics.decisions), collect(kafka, topics.deadLetter)]);
  // Debug: the plugin logs each poll, which the test waits for before counting decisions.
  const serve = await startServe({ ...serveEnv(topics, { projectTitle: title, webhook: { host: '127.0.0.1', port: 0 }, pollIntervalMs: 3000 }), CLIPN_TELEMETRY__LOG_LEVEL: 'debug' });
  try {
    const sent = inputs(30, uniqueName('ls'));
    const t0 = Date.now();
    await produce(kafka, topics.input, sent);
    // A result is produced only after the sinks delivered: every result means its task exists.
    await results.waitFor('30 results', (ms) => sent.every((s) => ms.some((m) => idOf(m) === s.key)), 180_000);
    await review.waitFor('30 review items', (ms) => ms.length >= 30, 30_000);
    process.stdout.write(`# 30 inputs -> 30 tasks in Label Studio in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    assert.equal(dlq.messages.length, 0, 'no dead letters');
    const items = new Map<string, ReviewItem>();
    for (const m of review.messages) {
      const item = (await codec.decode(m.value!, 'ReviewItem')).value;
      items.set(item.id, item);
    }

    // Read back through Label Studio's API.
    const project = await projectByTitle(auth(), title.replace('{labelSet}', 'default'));
    assert.ok(project, 'the project of label set default exists');
    assert.match(project.label_config, /<!-- clipn label set default v1 -->/);
    for (const label of [...LABELS, NONE_OF_THESE]) assert.ok(project.label_config.includes(`<Choice value="${label}"`), `the configuration offers ${label}`);
    const tasks = await allTasks(auth(), project.id);
    assert.equal(tasks.length, 30, '30 tasks');
    assert.deepEqual(tasks.map((t) => t.data.item_id).sort(), sent.map((s) => s.key).sort(), 'one task per item');
    for (const task of tasks) {
      const item = items.get(task.data.item_id)!;
      assert.ok(item, `a review item for ${task.data.item_id}`);
      assert.match(task.data.image, /^data:image\/png;base64,/, 'the inline image, shown as a data URI');
      assert.equal(Buffer.from(task.data.image.split(',')[1], 'base64').length, (item.image as Buffer).length);
      assert.equal(task.data.predicted, item.label);
      assert.equal(task.data.ctw_log_odds, item.scores.ctwLogOdds);
      assert.equal(task.data.atd_log_odds, item.scores.atdLogOdds);
      assert.equal(task.data.ctw, item.scores.ctw);
      assert.equal(task.data.atd, item.scores.atd);
      assert.deepEqual(task.data.reasons, item.reasons);
      assert.ok(task.data.clipn['routed by'].includes(item.reasons[0]!), 'the reasons are shown');
      assert.equal(task.predictions.length, 1, 'one prediction');
      const p = task.predictions[0];
      assert.equal(p.model_version, item.model.promptVersion, 'model_version is the serving release');
      assert.equal(p.score, item.scores.ctw);
      const choice = p.result.find((r: any) => r.from_name === 'decision');
      assert.deepEqual(choice.value.choices, [item.label], 'the predicted class');
      const notes = p.result.find((r: any) => r.from_name === 'model_notes');
      assert.match(notes.value.text[0], /^CTW \d\.\d{4} \(log-odds -?[\d.]+.*\); ATD \d\.\d{4} \(log-odds -?[\d.]+.*\)\nrouted by calibrated: /);
    }

    // Reviewers annotate every task through the API.
    const expected = new Map<string, Partial<ReviewDecision>>();
    const choose = (c: string) => ({ from_name: 'decision', to_name: 'image', type: 'choices', value: { choices: [c] } });
    const text = (name: string, t: string) => ({ from_name: name, to_name: 'image', type: 'textarea', value: { text: [t] } });
    const t1 = Date.now();
    for (const [i, task] of tasks.entries()) {
      const item = items.get(task.data.item_id)!;
      let result: unknown[];
      switch (i % 5) {
        case 0:
          result = [choose(NONE_OF_THESE), text('concept', 'crescent')];
          expected.set(item.id, { decision: 'new_concept', concept: 'crescent', label: null, caption: null });
          break;
        case 1:
          result = [choose(NONE_OF_THESE)];
          expected.set(item.id, { decision: 'none_of_labels', concept: null, label: null, caption: null });
          break;
        case 2:
          result = [choose(NONE_OF_THESE), text('caption', 'a yellow crescent')];
          expected.set(item.id, { decision: 'new_concept', concept: null, label: null, caption: 'a yellow crescent' });
          break;
        case 3:
          result = [choose(item.label), text('caption', `a photo of a ${item.label}`), text('model_notes', 'copied from the prediction')];
          expected.set(item.id, { decision: 'is_class', label: item.label, concept: null, caption: `a photo of a ${item.label}` });
          break;
        default: {
          const other = LABELS[(LABELS.indexOf(item.label) + 1) % LABELS.length]!;
          result = [choose(other)];
          expected.set(item.id, { decision: 'is_class', label: other, concept: null, caption: null });
        }
      }
      await lsApi(auth(), 'POST', `/api/tasks/${task.id}/annotations/`, { result });
    }
    await decisions.waitFor('30 decisions', (ms) => new Set(ms.map((m) => m.key!.toString())).size >= 30, 120_000);
    process.stdout.write(`# 30 annotations -> 30 ReviewDecisions in ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
    // A duplicate would come from polling: wait for two more polls, so that one started after the 30th decision.
    const polls = (): number => logLines(serve.output(), 'label-studio: poll done').length;
    const before = polls();
    await until('two more polls', () => polls() >= before + 2, 30_000, 200);
    assert.equal(decisions.messages.length, 30, 'one record per annotation');
    for (const m of decisions.messages) {
      const d = (await codec.decode(m.value!, 'ReviewDecision')).value;
      assert.equal(m.key!.toString(), d.itemId, 'keyed by item id');
      const want = expected.get(d.itemId);
      assert.ok(want, `a decision for an item of this test (${d.itemId})`);
      for (const [k, v] of Object.entries(want)) assert.deepEqual(d[k as keyof ReviewDecision], v, `${d.itemId}.${k}`);
      assert.equal(d.reviewer, 'clipn@example.com');
      assert.ok(Math.abs(d.decidedAt - Date.now()) < 10 * 60_000, 'decidedAt is the annotation time');
    }
    const via = logLines(serve.output(), 'label-studio: decision produced').map((l) => l.via as string);
    process.stdout.write(`# decisions by webhook: ${via.filter((v) => v === 'webhook').length}, by polling: ${via.filter((v) => v === 'poll').length}\n`);
    assert.equal(via.length, 30);
  } finally {
    await stopServe(serve);
    await Promise.all([results.stop(), review.stop(), decisions.stop(), dlq.stop()]);
  }

  // The trainer joins the review items with the decisions: 30 samples.
  const t2 = Date.now();
  const train = spawnClipn(['train', '--once'], {
    ...sidecarEnv(topics, uniqueName('g-unused')),
    CLIPN_KAFKA__TOPICS__REVIEW_DECISIONS: topics.decisions,
    CLIPN_TRAINER__SAMPLES_DIR: join(work, 'samples'),
    CLIPN_TRAINER__ARTIFACT_STORE: join(work, 'artifacts'),
    CLIPN_TRAINER__GROUP_ID: uniqueName('trainer'),
    // More held-out samples than there are: the run counts and refuses (exit 3) without training.
    CLIPN_TRAINER__MIN_HELD_OUT: '1000',
    CLIPN_TRAINER__HTTP_PORT: '0',
    CLIPN_TRAINER__KERNEL__DEVICE: 'cpu',
    CLIPN_TELEMETRY__LOG_LEVEL: 'info',
  });
  const code = await train.exited;
  const summary = train.output().split('\n').find((l) => l.startsWith('{"status"'));
  process.stdout.write(`# clipn train --once in ${((Date.now() - t2) / 1000).toFixed(1)} s: ${summary}\n`);
  assert.equal(code, 3, `refused for too few held-out samples (exit 3); output:\n${train.output().slice(-3000)}`);
  const caught = logLines(train.output(), 'caught up')[0];
  assert.ok(caught, 'the trainer caught up');
  assert.equal(caught.samples, 30, '30 joined samples');
  assert.equal(caught.pendingItems, 0, 'every item has its decision');
  assert.equal(caught.pendingDecisions, 0, 'every decision has its item');
  assert.equal(JSON.parse(summary!).samples, 30);
});

test('Label Studio stopped while items arrive, then started: every item becomes exactly one task, nothing dead-lettered', { timeout: 600_000 }, async () => {
  const topics = await setUp();
  const title = `${uniqueName('clipn-outage')} {labelSet}`;
  const [results, dlq] = await Promise.all([collect(kafka, topics.results), collect(kafka, topics.deadLetter)]);
  // The default patience (retryForMs 5 min) outlasts the restart; short backoffs keep the test quick.
  const serve = await startServe(serveEnv(topics, { projectTitle: title, webhook: { enabled: false }, pollIntervalMs: 0, initialBackoffMs: 200, maxBackoffMs: 3000 }));
  let restarted = false;
  try {
    const tag = uniqueName('outage');
    const first = inputs(10, `${tag}-a`);
    await produce(kafka, topics.input, first);
    await results.waitFor('10 results before the outage', (ms) => ms.length >= 10, 180_000);

    const stopMs = await stopLabelStudio();
    const down = Date.now();
    const during = inputs(20, `${tag}-b`);
    await produce(kafka, topics.input, during);
    await until('deliveries failing and retried', () => logLines(serve.output(), 'label-studio: delivering a review item failed; retrying').length >= 3, 60_000, 200);
    // Let the retries run a while, as during a real restart: until an item has backed off 4 times.
    await until('an item retried 5 times', () => logLines(serve.output(), 'label-studio: delivering a review item failed; retrying').some((l) => l.attempt >= 5), 60_000, 200);
    assert.equal(results.messages.length, 10, 'no result (so no commit) while Label Studio is down');
    assert.equal(dlq.messages.length, 0, 'nothing dead-lettered while Label Studio is down');
    const started = await startLabelStudio();
    restarted = true;
    process.stdout.write(`# Label Studio stopped in ${(stopMs / 1000).toFixed(1)} s, down ${((Date.now() - down) / 1000).toFixed(1)} s in all (start ${(started.ms / 1000).toFixed(1)} s)\n`);
    await results.waitFor('30 results after the restart', (ms) => ms.length >= 30, 300_000);

    const project = await projectByTitle(auth(), title.replace('{labelSet}', 'default'));
    const tasks = await allTasks(auth(), project!.id);
    const ids = tasks.map((t) => t.data.item_id as string).sort();
    assert.deepEqual(ids, [...first, ...during].map((s) => s.key).sort(), 'exactly one task per item');
    assert.equal(dlq.messages.length, 0, 'no dead letters');
    const retries = logLines(serve.output(), 'label-studio: delivering a review item failed; retrying');
    process.stdout.write(`# ${retries.length} delivery retries logged during the outage\n`);
  } finally {
    if (!restarted) await startLabelStudio().catch(() => undefined);
    await stopServe(serve);
    await Promise.all([results.stop(), dlq.stop()]);
  }
});

test('clipn review label-studio with a personal access token: its own group, committed after each task; a second group re-delivering every item makes no second task', { timeout: 600_000 }, async () => {
  const topics = await setUp();
  const title = `${uniqueName('clipn-cli')} {labelSet}`;
  const pat = await personalAccessToken(token);
  assert.match(pat, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a JWT');
  // Review items as the sidecar writes them (inline images).
  const tag = uniqueName('cli');
  const dir = join(ROOT, 'models', 'demo-heldout', 'id', 'circle');
  const png = readFileSync(join(dir, readdirSync(dir).sort()[0]!));
  const records = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const id = `${tag}-${i}`;
      const item: ReviewItem = {
        id,
        source: { topic: topics.input, partition: 0, offset: i },
        label: LABELS[i % LABELS.length]!,
        index: i % LABELS.length,
        scores: { ctw: 0.5, atd: 0.4, msp: 0.3, maxLogit: 1, energy: -1, ctwLogOdds: 0, atdLogOdds: -0.405 },
        ood: { ctw: false, atd: true },
        rule: 'atd',
        reasons: ['test'],
        top: [{ label: LABELS[i % LABELS.length]!, index: i % LABELS.length, p: 0.3, pYes: 0.5 }],
        imageEmbedding: [0.5, 0.5],
        image: png,
        contentType: 'image/png',
        caption: null,
        labelSet: { id: 'default', version: 1, labels: LABELS },
        model: { version: 'demo@test', promptVersion: 'demo@test/p0' },
        metadata: {},
        createdAt: Date.now(),
      };
      return { key: id, value: await codec.encode('ReviewItem', item) };
    }),
  );
  await produce(kafka, topics.review, records);
  const options = { url: LABEL_STUDIO_URL, tokenEnv: 'TEST_LABEL_STUDIO_PAT', tokenKind: 'personal', projectTitle: title, webhook: { enabled: false }, pollIntervalMs: 0 };
  const env = { ...sidecarEnv(topics, uniqueName('g-unused')), TEST_LABEL_STUDIO_PAT: pat, CLIPN_TELEMETRY__LOG_LEVEL: 'info' };

  const admin = kafka.admin();
  await admin.connect();
  try {
    for (const group of [uniqueName('ls-cli'), uniqueName('ls-cli-again')]) {
      const t0 = Date.now();
      const run = spawnClipn(['review', 'label-studio', '--options', JSON.stringify(options), '--group', group, '--max', '12'], env);
      const code = await run.exited;
      process.stdout.write(`# clipn review label-studio (group ${group}): 12 items in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
      assert.equal(code, 0, `exit 0; output:\n${run.output().slice(-3000)}`);
      assert.equal(logLines(run.output(), 'label-studio: started')[0]?.auth, 'personal', 'authenticated with the personal access token');
      const project = await projectByTitle(auth(), title.replace('{labelSet}', 'default'));
      const tasks = await allTasks(auth(), project!.id);
      assert.deepEqual(tasks.map((t) => t.data.item_id).sort(), records.map((r) => r.key).sort(), 'one task per item, also after the re-delivery');
      // Committed: the group's offsets are at the end of every partition.
      const ends = await admin.fetchTopicOffsets(topics.review);
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topics.review] });
      for (const e of ends.filter((x) => x.high !== '0')) assert.equal(committed!.partitions.find((p) => p.partition === e.partition)?.offset, e.high, `partition ${e.partition} committed to its end`);
    }
  } finally {
    await admin.disconnect();
  }
});
