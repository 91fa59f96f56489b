/**
 * Continual training against the real broker, the real kernel, the demo model and the sidecar,
 * with the trainer's defaults (no-tower mode, served-score loss with distillation toward the
 * serving model, regression gate). Every number is measured from the sidecar's own results on
 * the demo bundle's held-out images (models/demo-heldout: 40 ID images a class, 40 of each
 * unseen concept), which no run trains on:
 * - 60 reviewed crescents (a concept the demo model was not taught) raise held-out crescent ATD
 *   AUROC by at least 0.04, and no other concept (arrow, heart) nor ID accuracy drops by more
 *   than 1 point;
 * - a second run on hearts starts from the serving release and keeps the crescent gain within
 *   1 point;
 * - a candidate trained on inverted decisions is refused by the regression gate.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { createCodec } from '../../src/codec/index.js';
import { splitOf } from '../../src/trainer/index.js';
import type { Sidecar } from '../../src/service/sidecar.js';
import { mannWhitney } from '../helpers/clipn-cli.js';
import { spawnClipn } from './helpers/clipn-process.js';
import { demoInputs, MANIFEST, renderDemo, reviewDecision, type DemoImage } from './helpers/demo-world.js';
import { collect, produce, testKafka, uniqueName, until, type Collector } from './helpers/kafka.js';
import { inProcessSidecar, sidecarEnv } from './helpers/sidecar.js';
import { ROOT } from '../helpers/clipn-cli.js';
import { HELD_OUT_SHARE, newTrainerTopics, SPLIT_SALT, topicEnds, trainerEnv, type TrainerTopics } from './helpers/trainer.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
const HELD_OUT_DIR = join(ROOT, 'models', 'demo-heldout');
const CONCEPTS = ['crescent', 'arrow', 'heart'] as const;
// The issue's thresholds: AUROC and accuracy are fractions, "1 point" is 0.01.
const MIN_GAIN = 0.04;
const MAX_DROP = 0.01;

const work = mkdtempSync(join(tmpdir(), 'clipn-continual-'));
const ARTIFACTS = join(work, 'artifacts');

/** The bundle's held-out images (never trained on). */
function heldOutImages(): DemoImage[] {
  const images: DemoImage[] = [];
  for (const [kind, ood] of [['id', false], ['ood', true]] as const) {
    for (const shape of readdirSync(join(HELD_OUT_DIR, kind)).sort()) {
      for (const f of readdirSync(join(HELD_OUT_DIR, kind, shape)).sort()) images.push({ id: `${kind}-${shape}-${f}`, shape, bytes: readFileSync(join(HELD_OUT_DIR, kind, shape, f)), ood });
    }
  }
  return images;
}

type Topics = TrainerTopics;
const decodeResult = async (m: KafkaMessage) => (await codec.decode(m.value!, 'TaggedImage')).value;

let topics: Topics;
let sidecar: Sidecar;
let results: Collector;
let review: Collector;
const byId = new Map<string, DemoImage>();
const reviewItems: Array<{ key: string; value: Buffer; id: string }> = [];
const heldOut = heldOutImages();
const measured: Record<string, Record<string, number>> = {};

before(async () => {
  topics = await newTrainerTopics(kafka);
  ({ sidecar } = inProcessSidecar(sidecarEnv(topics, uniqueName('g'), { CLIPN_TRAINER__CAPTION_SAMPLE_SHARE: '1', CLIPN_MODEL__RELEASE_ARTIFACT_ROOT: ARTIFACTS })));
  results = await collect(kafka, topics.results);
  review = await collect(kafka, topics.review);
  await sidecar.start();
});

after(async () => {
  await sidecar?.stop();
  await results?.stop();
  await review?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Sends a round of captioned images through the sidecar and returns its review items of them. */
async function reviewRound(images: DemoImage[]): Promise<Array<{ key: string; value: Buffer; id: string }>> {
  for (const img of images) byId.set(img.id, img);
  const ids = new Set(images.map((i) => i.id));
  await produce(kafka, topics.input, demoInputs(images, '', true));
  // By id: a collector that rejoins its group may read a record twice.
  const mine = async () => [...new Map((await reviewed()).filter((r) => ids.has(r.id)).map((r) => [r.id, r])).values()];
  await until(`${images.length} review items`, async () => (await mine()).length >= images.length, 120_000);
  const items = await mine();
  reviewItems.push(...items);
  return items;
}

const resultsSoFar: Array<Awaited<ReturnType<typeof decodeResult>>> = [];
/** Every result so far, decoded once each. */
async function decodedResults(): Promise<typeof resultsSoFar> {
  for (const m of results.messages.slice(resultsSoFar.length)) resultsSoFar.push(await decodeResult(m));
  return resultsSoFar;
}

const reviewedSoFar: Array<{ key: string; value: Buffer; id: string }> = [];
/** Every review item so far (held-out measurements route there too: decoded once each). */
async function reviewed(): Promise<typeof reviewedSoFar> {
  for (const m of review.messages.slice(reviewedSoFar.length)) reviewedSoFar.push({ key: m.key!.toString(), value: m.value!, id: (await codec.decode(m.value!, 'ReviewItem')).value.id });
  return reviewedSoFar;
}

/** Per-concept ATD AUROC and ID accuracy of the bundle's held-out images through the sidecar. */
async function measure(name: string, version: string): Promise<Record<string, number>> {
  const prefix = `${name.replace(/\W+/g, '-')}-`;
  await produce(kafka, topics.input, demoInputs(heldOut, prefix, false));
  // By id, as review items: a record read twice counts once.
  const mine = async () => [...new Map((await decodedResults()).filter((r) => r.id.startsWith(prefix)).map((r) => [r.id, r])).values()];
  await until(`${heldOut.length} held-out results (${name})`, async () => (await mine()).length >= heldOut.length, 120_000);
  const scored = await mine();
  assert.deepEqual([...new Set(scored.map((r) => r.model.promptVersion))], [version], `${name}: scored by ${version}`);
  const truth = new Map(heldOut.map((h) => [`${prefix}${h.id}`, h]));
  const idResults = scored.filter((r) => !truth.get(r.id)!.ood);
  const id = idResults.map((r) => r.scores.atdLogOdds);
  const out: Record<string, number> = { idAccuracy: idResults.filter((r) => r.label === truth.get(r.id)!.shape).length / idResults.length };
  for (const c of CONCEPTS) out[c] = mannWhitney(id, scored.filter((r) => truth.get(r.id)!.ood && truth.get(r.id)!.shape === c).map((r) => r.scores.atdLogOdds));
  measured[name] = out;
  process.stdout.write(`${name} (${version}): ${Object.entries(out).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}\n`);
  return out;
}

const change = (a: Record<string, number>, b: Record<string, number>, k: string): string => `${k} ${(b[k]! - a[k]!) >= 0 ? '+' : ''}${(b[k]! - a[k]!).toFixed(4)}`;

/** Records on a topic (sum of its partitions' end offsets). */
async function recordCount(topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Decides every item of a round truthfully and checks the decisions are on the topic. */
async function decideAll(items: ReadonlyArray<{ id: string }>): Promise<void> {
  const before = await recordCount(topics.decisions);
  await produce(kafka, topics.decisions, await Promise.all(items.map((r) => reviewDecision(r.id, byId.get(r.id)!))));
  assert.equal(await recordCount(topics.decisions), before + items.length, `${items.length} decisions written`);
  process.stdout.write(`${items.length} decisions written\n`);
}

/** Runs `clipn train --once`; returns its exit code and its summary line. */
async function trainOnce(env: Record<string, string>, name: string): Promise<{ code: number | null; summary: Record<string, any>; output: string }> {
  const run = spawnClipn(['train', '--once'], env);
  const code = await run.exited;
  const line = run.output().split('\n').find((l) => l.startsWith('{"status"'));
  assert.ok(line, `${name}: a summary line; output:\n${run.output().slice(-4000)}`);
  const summary = JSON.parse(line) as Record<string, any>;
  process.stdout.write(`${name}: status ${summary.status}, version ${summary.version}, serving ${summary.serving}, reasons ${JSON.stringify(summary.reasons)}\n`);
  return { code, summary, output: run.output() };
}

async function latestRelease(collector: Collector, count: number) {
  await collector.waitFor(`release ${count}`, (ms) => ms.length >= count, 30_000);
  return (await codec.decode(collector.messages[count - 1]!.value!, 'ModelRelease')).value;
}

let env1: Record<string, string>;
let firstVersion = '';

test('60 reviewed crescents: held-out crescent ATD AUROC rises by at least 0.04; arrow, heart and ID accuracy drop by at most 1 point', { timeout: 900_000 }, async () => {
  const base = await measure('base', MANIFEST.prompt.version);
  const items = await reviewRound([...renderDemo(work, 'id', 10, 101, 'r1'), ...renderDemo(work, 'ood', 60, 102, 'r1', 'crescent')]);
  await decideAll(items);
  // Nothing about the objective or the gate is set: the trainer's defaults are under test.
  env1 = trainerEnv(topics, join(work, 'samples'), ARTIFACTS);
  const releases = await collect(kafka, topics.modelReleases);
  try {
    const run = await trainOnce(env1, 'crescent run');
    assert.equal(run.code, 0, `published (exit 0); output:\n${run.output.slice(-4000)}`);
    const release = await latestRelease(releases, 1);
    firstVersion = release.version;
    assert.equal(release.kind, 'no_tower', 'the default is the no-tower objective (training/EXPERIMENTS.md)');
    assert.equal(release.lineage.kernelArgs.init, 'checkpoint', 'the first run starts from the bundle');
    for (const c of CONCEPTS) assert.equal(typeof release.lineage.metrics[`concept.bundle/${c}.atdAuroc`], 'number', `the release records bundle/${c}`);
    assert.equal(typeof release.lineage.metrics['concept.reviewed/crescent.atdAuroc'], 'number', 'and the reviewed concept');
    await until('the sidecar serves the release', () => sidecar.state!.current.classifier.promptVersion === release.version, 60_000);
    const after1 = await measure('after crescent run', release.version);
    process.stdout.write(`crescent run, change through the sidecar: ${['crescent', 'arrow', 'heart', 'idAccuracy'].map((k) => change(base, after1, k)).join(', ')}\n`);
    assert.ok(after1.crescent! - base.crescent! >= MIN_GAIN, `crescent AUROC ${base.crescent} -> ${after1.crescent}: gain >= ${MIN_GAIN}`);
    for (const k of ['arrow', 'heart', 'idAccuracy']) assert.ok(after1[k]! >= base[k]! - MAX_DROP, `${k} ${base[k]} -> ${after1[k]}: drop <= ${MAX_DROP}`);

    // `clipn models list` shows the per-concept numbers the release recorded.
    const list = spawnClipn(['models', 'list'], env1);
    assert.equal(await list.exited, 0, list.output());
    process.stdout.write(list.output());
    for (const c of CONCEPTS) assert.ok(list.output().includes(`bundle/${c}`), `models list names bundle/${c}`);
  } finally {
    await releases.stop();
  }
});

test('a second run on hearts starts from the serving release and keeps the crescent gain within 1 point', { timeout: 900_000 }, async () => {
  assert.ok(firstVersion, 'the crescent run published');
  const items = await reviewRound([...renderDemo(work, 'id', 10, 105, 'r2'), ...renderDemo(work, 'ood', 60, 103, 'r2', 'heart')]);
  await decideAll(items);
  const releases = await collect(kafka, topics.modelReleases);
  try {
    const run = await trainOnce(env1, 'heart run');
    assert.equal(run.code, 0, `published (exit 0); output:\n${run.output.slice(-4000)}`);
    const release = await latestRelease(releases, 2);
    assert.equal(release.parentVersion, firstVersion);
    assert.equal(release.lineage.kernelArgs.init, 'serving release (no tower)', 'continues the serving tower, not the bundle\'s');
    assert.equal(typeof release.lineage.metrics['concept.reviewed/heart.atdAuroc'], 'number');
    await until('the sidecar serves the second release', () => sidecar.state!.current.classifier.promptVersion === release.version, 60_000);
    const after2 = await measure('after heart run', release.version);
    const base = measured.base!;
    const after1 = measured['after crescent run']!;
    process.stdout.write(`heart run, change from the bundle: ${['crescent', 'arrow', 'heart', 'idAccuracy'].map((k) => change(base, after2, k)).join(', ')}; from the crescent release: ${['crescent', 'arrow', 'heart', 'idAccuracy'].map((k) => change(after1, after2, k)).join(', ')}\n`);
    assert.ok(after2.crescent! >= after1.crescent! - MAX_DROP, `crescent ${after1.crescent} -> ${after2.crescent}: kept within ${MAX_DROP}`);
    assert.ok(after2.heart! >= after1.heart!, `heart ${after1.heart} -> ${after2.heart}: the reviewed concept does not get worse`);
  } finally {
    await releases.stop();
  }
});

test('a candidate trained on inverted decisions is refused by the regression gate', { timeout: 900_000 }, async () => {
  // Fresh topics holding the same review items; training-split items get the opposite verdict,
  // held-out ones the truth. The gate compares with the bundle (nothing released there).
  const t = await newTrainerTopics(kafka, reviewItems);
  const share = Number(HELD_OUT_SHARE);
  await produce(kafka, t.decisions, await Promise.all(reviewItems.map((r) => reviewDecision(r.id, byId.get(r.id)!, splitOf(r.id, share, SPLIT_SALT) === 'train'))));
  const run = await trainOnce(trainerEnv(t, join(work, 'samples-inverted'), ARTIFACTS), 'inverted run');
  assert.equal(run.code, 3, `refused (exit 3); output:\n${run.output.slice(-4000)}`);
  assert.ok(run.summary.candidate !== null, 'a candidate was trained and gated');
  const regression = (run.summary.reasons as string[]).filter((r) => r.startsWith('regression: bundle/'));
  assert.ok(regression.length > 0, `the regression gate names the bundle's held-out concepts it would hurt: ${JSON.stringify(run.summary.reasons)}`);
  assert.deepEqual(await topicEnds(kafka, t.modelReleases), ['0'], 'no record on the release topic');
});
