/**
 * The closed loop against the real broker, the real kernel and the demo model: the sidecar
 * routes images to review, reviewers decide, `clipn train --once` trains new "no" prompts and
 * publishes them, and the running sidecar serves them (better on a held-out set of the concept).
 * A candidate trained on corrupted decisions is refused, and a trainer killed mid-run loses no
 * sample and publishes nothing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { createCodec } from '../../src/codec/index.js';
import { splitOf } from '../../src/trainer/index.js';
import { mannWhitney } from '../helpers/clipn-cli.js';
import { logLines, spawnClipn } from './helpers/clipn-process.js';
import { demoInputs, MANIFEST, renderDemo, reviewDecision, type DemoImage } from './helpers/demo-world.js';
import { collect, produce, testKafka, uniqueName, until, type Collector } from './helpers/kafka.js';
import { inProcessSidecar, sidecarEnv } from './helpers/sidecar.js';
import type { Sidecar } from '../../src/service/sidecar.js';
import { HELD_OUT_SHARE, newTrainerTopics, SPLIT_SALT, topicEnds, trainerEnv, type TrainerTopics } from './helpers/trainer.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
// A shape the demo world keeps out of training (world.py OOD_SHAPES): the new concept reviewers name.
const CONCEPT = 'crescent';

const work = mkdtempSync(join(tmpdir(), 'clipn-train-loop-'));
// The trainers of the shared topics keep their releases here; the sidecar loads no-tower graphs from it.
const ARTIFACTS = join(work, 'artifacts');

/** Demo-world images (split ood: the concept's) rendered by the kernel. */
const render = (split: 'id' | 'ood', n: number, seed: number, tag: string): DemoImage[] => renderDemo(work, split, n, seed, tag, CONCEPT);

type Topics = TrainerTopics;
const decodeResult = async (m: KafkaMessage) => (await codec.decode(m.value!, 'TaggedImage')).value;
const decodeItem = async (m: KafkaMessage) => (await codec.decode(m.value!, 'ReviewItem')).value;

// Shared: one sidecar, the training images through it, and the review items it produced.
let topics: Topics;
let sidecar: Sidecar;
let sidecarLogs: string[] = [];
let results: Collector;
const reviewItems: Array<{ key: string; value: Buffer; id: string; reasons: string[] }> = [];
const byId = new Map<string, DemoImage>();
let heldOut: DemoImage[] = [];

before(async () => {
  const train = [...render('id', 10, 101, 'tr'), ...render('ood', 60, 102, 'tr')];
  heldOut = [...render('id', 8, 201, 'ho'), ...render('ood', 40, 202, 'ho')];
  for (const img of train) byId.set(img.id, img);
  topics = await newTrainerTopics(kafka);
  // Every training image is captioned and every captioned image the rule does not route is
  // sampled: all of them reach the review topic, as outliers or as training pairs.
  ({ sidecar, logs: sidecarLogs } = inProcessSidecar(sidecarEnv(topics, uniqueName('g'), { CLIPN_TRAINER__CAPTION_SAMPLE_SHARE: '1', CLIPN_MODEL__RELEASE_ARTIFACT_ROOT: ARTIFACTS })));
  results = await collect(kafka, topics.results);
  const review = await collect(kafka, topics.review);
  await sidecar.start();
  await produce(kafka, topics.input, demoInputs(train, '', true));
  await results.waitFor(`${train.length} results`, (ms) => ms.length >= train.length, 120_000);
  const routed = (await Promise.all(results.messages.map(decodeResult))).filter((r) => r.routed).length;
  await review.waitFor(`${routed} review items`, (ms) => ms.length >= routed, 60_000);
  for (const m of review.messages) {
    const item = await decodeItem(m);
    reviewItems.push({ key: m.key!.toString(), value: m.value!, id: item.id, reasons: item.reasons });
  }
  await review.stop();
  const ood = reviewItems.filter((r) => byId.get(r.id)!.ood).length;
  assert.equal(reviewItems.length, train.length, `every training image is in review (${ood} OOD)`);
  assert.ok(reviewItems.some((r) => r.reasons.includes('sampled')), 'some reached review as sampled training pairs');
});

after(async () => {
  await sidecar?.stop();
  await results?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** ATD AUROC (ID positive) of the held-out set through the sidecar, and the prompt versions that scored it. */
async function scoreHeldOut(prefix: string): Promise<{ auroc: number; prompts: Set<string> }> {
  const before = results.messages.length;
  await produce(kafka, topics.input, demoInputs(heldOut, prefix, false));
  await results.waitFor(`${heldOut.length} held-out results (${prefix})`, (ms) => ms.length >= before + heldOut.length, 60_000);
  const mine = (await Promise.all(results.messages.slice(before).map(decodeResult))).filter((r) => r.id.startsWith(prefix));
  assert.equal(mine.length, heldOut.length);
  const ood = new Set(heldOut.filter((h) => h.ood).map((h) => `${prefix}${h.id}`));
  const id = mine.filter((r) => !ood.has(r.id)).map((r) => r.scores.atdLogOdds);
  const out = mine.filter((r) => ood.has(r.id)).map((r) => r.scores.atdLogOdds);
  return { auroc: mannWhitney(id, out), prompts: new Set(mine.map((r) => r.model.promptVersion)) };
}

test('closed loop: reviewed samples train a release that the running sidecar serves, better on a held-out set of the concept', { timeout: 600_000 }, async () => {
  // Reviewers decide every outlier and most ID items; an undecided captioned ID item the sidecar
  // sampled is an ID training pair as it is.
  const decisions = await Promise.all(reviewItems.filter((r, i) => byId.get(r.id)!.ood || i % 7 !== 3).map((r) => reviewDecision(r.id, byId.get(r.id)!)));
  await produce(kafka, topics.decisions, decisions);
  const beforeScore = await scoreHeldOut('before-');
  assert.deepEqual([...beforeScore.prompts], [MANIFEST.prompt.version]);

  const releases = await collect(kafka, topics.modelReleases);
  const samplesDir = join(work, 'samples-loop');
  // The prompt path (inline releases); the no-tower default has its own test below.
  const env = trainerEnv(topics, samplesDir, ARTIFACTS, { CLIPN_TRAINER__KERNEL__MODE: 'prompts' });
  try {
    const run = spawnClipn(['train', '--once'], env);
    const code = await run.exited;
    process.stdout.write(`loop run: ${run.output().split('\n').find((l) => l.startsWith('{"status"'))}\n`);
    assert.equal(code, 0, `train --once publishes (exit 0); output:\n${run.output().slice(-4000)}`);
    await releases.waitFor('the release', (ms) => ms.length >= 1, 30_000);
    const release = (await codec.decode(releases.messages[0]!.value!, 'ModelRelease')).value;
    assert.equal(releases.messages[0]!.key!.toString(), 'demo');
    assert.equal(release.version, `${MANIFEST.modelVersion}/p1`);
    assert.equal(release.parentVersion, MANIFEST.prompt.version);
    assert.equal(release.kind, 'prompt');
    assert.ok(release.lineage.sampleCount > 40, `trained on ${release.lineage.sampleCount} samples`);
    for (const k of ['candidate.atdAuroc', 'serving.atdAuroc', 'candidate.ctwFpr95', 'candidate.idAccuracy']) assert.equal(typeof release.lineage.metrics[k], 'number', k);

    await until('the sidecar serves the release', () => sidecar.state!.current.classifier.promptVersion === release.version, 30_000);
    const afterScore = await scoreHeldOut('after-');
    assert.deepEqual([...afterScore.prompts], [release.version], 'results name the new prompt version');
    process.stdout.write(`held-out ${CONCEPT} vs ID, ATD AUROC through the sidecar: before ${beforeScore.auroc.toFixed(4)} (${MANIFEST.prompt.version}), after ${afterScore.auroc.toFixed(4)} (${release.version}); gate on the trainer's held-out split: serving ${release.lineage.metrics['serving.atdAuroc']!.toFixed(4)}, candidate ${release.lineage.metrics['candidate.atdAuroc']!.toFixed(4)}\n`);
    assert.ok(afterScore.auroc > beforeScore.auroc, `ATD AUROC after (${afterScore.auroc}) > before (${beforeScore.auroc})`);

    // The history lists it as served; rolling back to the bundle's prompt swaps the sidecar back.
    const list = spawnClipn(['models', 'list', '--json'], env);
    assert.equal(await list.exited, 0, list.output());
    const rows = list.output().trim().split('\n').filter((l) => l.startsWith('{"version"')).map((l) => JSON.parse(l));
    assert.deepEqual(rows.map((r) => [r.version, r.serving]), [[release.version, true]]);
    const back = spawnClipn(['models', 'rollback', MANIFEST.prompt.version], env);
    assert.equal(await back.exited, 0, back.output());
    await until('the sidecar serves the bundle prompt again', () => sidecar.state!.current.classifier.promptVersion === MANIFEST.prompt.version, 30_000);
  } finally {
    await releases.stop();
  }
});

test('a no-tower release: the trainer stores the new text_no graph, the running sidecar loads it from the artifact store and serves it', { timeout: 600_000 }, async () => {
  // Runs after the closed loop on the same topics (its decisions are there; the sidecar was rolled back).
  const releases = await collect(kafka, topics.modelReleases);
  try {
    const seen = releases.messages.length;
    // This test is about the no-tower path, not about the gates: the held-out gate's and the
    // regression set's margins wide open (the regression gate is tested in continual-training).
    const env = trainerEnv(topics, join(work, 'samples-no-tower'), ARTIFACTS, {
      CLIPN_TRAINER__KERNEL__MODE: 'no-tower', CLIPN_TRAINER__KERNEL__EPOCHS: '10', CLIPN_TRAINER__MARGIN_AUROC: '1', CLIPN_TRAINER__MARGIN_ACCURACY: '1',
      CLIPN_TRAINER__REGRESSION__MARGIN: '1',
    });
    const run = spawnClipn(['train', '--once'], env);
    const code = await run.exited;
    process.stdout.write(`no-tower run: ${run.output().split('\n').find((l) => l.startsWith('{"status"'))}\n`);
    assert.equal(code, 0, `train --once publishes (exit 0); output:\n${run.output().slice(-4000)}`);
    await releases.waitFor('the no-tower release', (ms) => ms.length > seen, 30_000);
    const releaseMessage = releases.messages.at(-1)!;
    const release = (await codec.decode(releaseMessage.value!, 'ModelRelease')).value;
    assert.equal(release.kind, 'no_tower');
    assert.ok(release.artifact !== null && release.artifact.uri.includes(ARTIFACTS), `artifact in the store: ${release.artifact?.uri}`);
    assert.match(release.artifact!.sha256, /^[0-9a-f]{64}$/);

    await until('the sidecar serves the no-tower release', () => sidecar.state!.current.classifier.promptVersion === release.version, 60_000);
    assert.equal(sidecar.state!.current.classifier.hasReleasedTower, true, 'it runs the released tower, not the bundle\'s');
    const scored = await scoreHeldOut('no-tower-');
    assert.deepEqual([...scored.prompts], [release.version], 'results name the no-tower release');
    process.stdout.write(`held-out ${CONCEPT} vs ID, ATD AUROC with the no-tower release ${release.version}: ${scored.auroc.toFixed(4)}\n`);

    // A tampered copy of the same release (another version, the graph's sha256 wrong) is refused; the release stays.
    const tampered = await codec.encode('ModelRelease', { ...release, version: `${release.version}-tampered`, artifact: { ...release.artifact!, sha256: '0'.repeat(64) }, createdAt: Date.now() });
    await produce(kafka, topics.modelReleases, [{ key: 'demo', value: tampered }]);
    await until('the tampered release refused', () => sidecarLogs.some((l) => l.includes('release refused') && l.includes('-tampered') && l.includes('does not match')), 30_000);
    const control = await scoreHeldOut('after-tampered-');
    assert.deepEqual([...control.prompts], [release.version], 'the tampered release was refused; the no-tower release still serves');
  } finally {
    await releases.stop();
  }
});

/** Fresh trainer topics holding copies of the shared review items (the sidecar's output). */
function trainerTopics(): Promise<Topics> {
  return newTrainerTopics(kafka, reviewItems);
}

test('a candidate trained on corrupted decisions is refused: exit 3, nothing on the release topic', { timeout: 600_000 }, async () => {
  const t = await trainerTopics();
  // Training-split items get the opposite verdict; held-out items the truth the gate measures with.
  const share = Number(HELD_OUT_SHARE);
  const decisions = await Promise.all(reviewItems.map((r) => reviewDecision(r.id, byId.get(r.id)!, splitOf(r.id, share, SPLIT_SALT) === 'train')));
  await produce(kafka, t.decisions, decisions);
  // A larger step size, so the corrupted verdicts move the prompt well beyond the gate's margin.
  const run = spawnClipn(['train', '--once'], trainerEnv(t, join(work, 'samples-corrupt'), ARTIFACTS, { CLIPN_TRAINER__KERNEL__MODE: 'prompts', CLIPN_TRAINER__KERNEL__LR: '0.01' }));
  const code = await run.exited;
  const summary = run.output().split('\n').find((l) => l.startsWith('{"status"'));
  process.stdout.write(`corrupted run: ${summary}\n`);
  assert.equal(code, 3, `refused (exit 3); output:\n${run.output().slice(-4000)}`);
  assert.equal(JSON.parse(summary!).status, 'refused');
  assert.ok(JSON.parse(summary!).candidate !== null, 'the candidate was trained and gated');
  const releases = await collect(kafka, t.modelReleases);
  // The topic's end is known: nothing was written (a read-to-end would see a record).
  const ends = await topicEnds(kafka, t.modelReleases);
  await releases.stop();
  assert.deepEqual(ends, ['0'], 'no record on the release topic');
});

test('a trainer killed (SIGKILL) during a kernel run loses no samples and publishes nothing; the next run works', { timeout: 600_000 }, async () => {
  const t = await trainerTopics();
  await produce(kafka, t.decisions, await Promise.all(reviewItems.map((r) => reviewDecision(r.id, byId.get(r.id)!))));
  // Few epochs: the run after the restart only has to complete.
  const env = trainerEnv(t, join(work, 'samples-kill'), ARTIFACTS, { CLIPN_TRAINER__KERNEL__EPOCHS: '5' });
  const first = spawnClipn(['train', '--once'], env);
  await until('the kernel started', () => logLines(first.output(), 'kernel started').length > 0 || first.child.exitCode !== null, 120_000);
  assert.equal(first.child.exitCode, null, `still running at kernel start; output:\n${first.output().slice(-3000)}`);
  first.child.kill('SIGKILL');
  await first.exited;
  const counted = logLines(first.output(), 'caught up')[0]!;
  const kernelPid = logLines(first.output(), 'kernel started')[0]!.pid as number;

  const admin = kafka.admin();
  await admin.connect();
  const releaseEnd = async () => (await admin.fetchTopicOffsets(t.modelReleases)).map((o) => o.high);
  try {
    assert.deepEqual(await releaseEnd(), ['0'], 'nothing published by the killed run');
    const second = spawnClipn(['train', '--once'], env);
    const code = await second.exited;
    const recount = logLines(second.output(), 'caught up')[0];
    assert.ok(recount, `the restart caught up; output:\n${second.output().slice(-3000)}`);
    assert.equal(recount.samples, counted.samples, 'the same samples after the restart');
    assert.equal(recount.newSinceRun, counted.newSinceRun, 'none counted twice');
    assert.ok(counted.samples > 40);
    assert.ok(logLines(second.output(), 'removed an unfinished training run').length === 1, 'the killed run folder was cleaned');
    assert.throws(() => process.kill(kernelPid, 0), 'the left-over kernel is not running any more');
    assert.ok(code === 0 || code === 3, `the next run completes (published or refused); got ${code}:\n${second.output().slice(-3000)}`);
    assert.deepEqual(await releaseEnd(), [code === 0 ? '1' : '0']);
  } finally {
    await admin.disconnect();
  }
});
