/**
 * Trust against the real broker, with `clipn serve` as a child process that trusts two keys (the
 * operator's and the trainer's, from a folder as a mounted Secret would hold them): label sets
 * and releases by anyone else are refused and counted, the trainer's signed releases are swapped
 * in, an old signed release produced again is refused, signed rollbacks are accepted, a
 * tombstone on the default label set is refused; and a pre-signed URL's query string appears in
 * no log line and no dead letter.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec, type ModelRelease } from '../../src/codec/index.js';
import { publishRelease } from '../../src/trainer/index.js';
import { generateKeyPair, loadPublicKeys, signerOf } from '../../src/trust/index.js';
import { collect, createTopics, produce, testKafka, uniqueName, until, type Collector } from './helpers/kafka.js';
import { sidecarEnv, sidecarTopicSpecs, startServe, stopServe, testTopics, type ServeProcess, type TestTopics } from './helpers/sidecar.js';
import { clipn, ROOT } from '../helpers/clipn-cli.js';

const codec = createCodec({ registryUrl: null });
const kafka = testKafka();
const DEMO = join(ROOT, 'models', 'demo');
const MANIFEST = JSON.parse(readFileSync(join(DEMO, 'manifest.json'), 'utf8')) as { modelVersion: string; prompt: { version: string; shape: number[] } };
const LABELS = (JSON.parse(readFileSync(join(DEMO, 'labels.json'), 'utf8')) as { labels: string[] }).labels;
const BASE = MANIFEST.modelVersion;
const PROMPT = readFileSync(join(DEMO, 'prompt.bin'));
const SECRET = 'X-Amz-Signature=5ec4e7f00d';

const work = mkdtempSync(join(tmpdir(), 'clipn-trust-'));
const operator = generateKeyPair();
const trainer = generateKeyPair();
const intruder = generateKeyPair();
const keyFile = (name: string, pem: string) => {
  writeFileSync(join(work, name), pem, { mode: 0o600 });
  return join(work, name);
};
mkdirSync(join(work, 'trusted'));
writeFileSync(join(work, 'trusted', 'operator.pub.pem'), operator.publicPem);
writeFileSync(join(work, 'trusted', 'trainer'), trainer.publicRaw);
const OPERATOR_KEY = keyFile('operator.pem', operator.privatePem);
const TRAINER_KEY = keyFile('trainer.pem', trainer.privatePem);
const INTRUDER_KEY = keyFile('intruder.pem', intruder.privatePem);
const trainerSigner = signerOf(createPrivateKey(trainer.privatePem));
const trusted = new Map(loadPublicKeys([join(work, 'trusted')], '/').map((k) => [k.keyId, k]));

let topics: TestTopics;
let env: Record<string, string>;
let serve: ServeProcess;
let results: Collector;
let letters: Collector;
let http: Server;
let httpUrl: string;

/** `clipn ...` with the test's environment, to completion: its exit code and output. */
async function cli(args: string[]): Promise<{ code: number; output: string }> {
  const r = await clipn(args, { ...env, CLIPN_TRAINER__SAMPLES_DIR: join(work, 'samples') });
  return { code: r.code, output: r.stdout + r.stderr };
}

/** Log lines (pino JSON) of serve's output with this message. */
function logs(msg: string): Array<Record<string, any>> {
  return serve
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((l) => l.msg === msg);
}

const waitLog = (what: string, msg: string, match: (l: Record<string, any>) => boolean, count = 1) =>
  until(what, async () => logs(msg).filter(match).length >= count, 30_000, 100);

function metricsText(): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port: serve.port, path: '/metrics' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject).end();
  });
}

/** The value of clipn_releases_refused_total for this kind and reason (0 when absent). */
async function refusedCount(kind: string, reason: string): Promise<number> {
  const line = (await metricsText()).split('\n').find((l) => l.startsWith('clipn_releases_refused_total{') && l.includes(`kind="${kind}"`) && l.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

const release = (n: number): ModelRelease => ({
  model: 'demo', version: `${BASE}/p${n}`, parentVersion: null, kind: 'prompt', baseModelVersion: BASE,
  prompt: { shape: [...MANIFEST.prompt.shape], dtype: 'float32', data: PROMPT, sha256: createHash('sha256').update(PROMPT).digest('hex') },
  artifact: null, lineage: { sampleCount: 0, metrics: {}, kernelArgs: { source: 'trust test' } }, createdAt: Date.now(),
});

before(async () => {
  topics = testTopics();
  await createTopics(kafka, sidecarTopicSpecs(topics, 1));
  http = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  httpUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  env = sidecarEnv(topics, uniqueName('g-trust'), { CLIPN_TRUST__PUBLIC_KEYS: join(work, 'trusted'), CLIPN_IMAGES__FETCH__ALLOW_PRIVATE_NETWORKS: 'true' });
  writeFileSync(join(work, 'default.json'), JSON.stringify({ id: 'default', version: 1, labels: LABELS, routing: { rule: 'atd' } }));
  const put = await cli(['labels', 'put', join(work, 'default.json'), '--key', OPERATOR_KEY]);
  assert.equal(put.code, 0, put.output);
  assert.match(put.output, new RegExp(`signed by key ${operator.keyId}`));
  results = await collect(kafka, topics.results);
  letters = await collect(kafka, topics.deadLetter);
  serve = await startServe(env);
});

after(async () => {
  if (serve) await stopServe(serve);
  await results?.stop();
  await letters?.stop();
  http?.close();
  rmSync(work, { recursive: true, force: true });
});

test('only signed side channels apply: foreign and unsigned records are refused and counted, signed releases move forward, signed rollbacks go back', { timeout: 240_000 }, async () => {
  assert.equal(logs('side channels: only records signed by these keys are applied').length, 1);
  assert.deepEqual(new Set(logs('side channels: only records signed by these keys are applied')[0]!.keyIds), new Set([operator.keyId, trainer.keyId]));

  // A label set signed by a key the sidecar does not trust, and a tombstone on the default one.
  writeFileSync(join(work, 'foreign.json'), JSON.stringify({ id: 'foreign', version: 1, labels: ['cat'], routing: { rule: 'atd' } }));
  assert.equal((await cli(['labels', 'put', join(work, 'foreign.json'), '--key', INTRUDER_KEY])).code, 0);
  await produce(kafka, topics.labelSets, [{ key: 'default', value: null }]);
  await waitLog('the foreign label set refused', 'label-set refused', (l) => l.id === 'foreign' && l.code === 'SIGNATURE_INVALID');
  await waitLog('the tombstone refused', 'label-set refused', (l) => l.id === 'default' && l.code === 'LABEL_SET_INVALID');

  // A release by a producer without the key.
  await produce(kafka, topics.modelReleases, [{ key: 'demo', value: await codec.encode('ModelRelease', { ...release(1), sequence: 99 }) }]);
  await waitLog('the unsigned release refused', 'release refused', (l) => l.code === 'SIGNATURE_INVALID');

  // The trainer's publishing code: sequence and signature.
  const p1 = await publishRelease(kafka, codec, topics.modelReleases, release(1), trainerSigner, trusted);
  assert.equal(p1.sequence, 1, 'the unsigned sequence 99 does not count');
  await waitLog('p1 applied', 'release applied', (l) => l.version === `${BASE}/p1`);
  const p2 = await publishRelease(kafka, codec, topics.modelReleases, release(2), trainerSigner, trusted);
  assert.equal(p2.sequence, 2);
  await waitLog('p2 applied', 'release applied', (l) => l.version === `${BASE}/p2`);

  // The old signed p1 produced again, byte for byte.
  await produce(kafka, topics.modelReleases, [{ key: 'demo', value: await codec.encode('ModelRelease', p1) }]);
  await waitLog('the replayed p1 refused', 'release refused', (l) => l.code === 'RELEASE_INVALID' && /sequence 1 is not above 2/.test(l.reason));

  // Signed rollbacks: to p1 with the publishing code, to the bundle's own prompt with the CLI.
  await publishRelease(kafka, codec, topics.modelReleases, { ...release(1), rollback: true }, trainerSigner, trusted);
  await waitLog('the rollback to p1 applied', 'release applied', (l) => l.version === `${BASE}/p1` && l.rollback === true);
  const rollback = await cli(['models', 'rollback', MANIFEST.prompt.version, '--key', TRAINER_KEY]);
  assert.equal(rollback.code, 0, rollback.output);
  assert.match(rollback.output, new RegExp(`as a rollback \\(sequence 4\\), signed by key ${trainer.keyId}`));
  await waitLog('the rollback to p0 applied', 'release applied', (l) => l.version === MANIFEST.prompt.version);

  assert.equal(await refusedCount('model', 'SIGNATURE_INVALID'), 1);
  assert.equal(await refusedCount('model', 'RELEASE_INVALID'), 1);
  assert.equal(await refusedCount('label_set', 'SIGNATURE_INVALID'), 1);
  assert.equal(await refusedCount('label_set', 'LABEL_SET_INVALID'), 1);

  // Still serving: the default label set (version 1) and the bundle's prompt after the rollback.
  const before = results.messages.length;
  const png = readFileSync(join(ROOT, 'models', 'demo-heldout', 'id', 'star', '000.png'));
  await produce(kafka, topics.input, [{ key: 'after-trust', value: png, headers: { 'clipn-id': 'after-trust' } }]);
  await results.waitFor('the result', (ms) => ms.length > before, 30_000);
  const tagged = (await codec.decode(results.messages.at(-1)!.value!, 'TaggedImage')).value;
  assert.deepEqual([tagged.labelSet.id, tagged.labelSet.version, tagged.model.promptVersion], ['default', 1, MANIFEST.prompt.version]);
});

test('a pre-signed URL\'s query string appears in no log line and no dead letter', { timeout: 120_000 }, async () => {
  const uris = [`${httpUrl}/bucket/img.png?${SECRET}&X-Amz-Credential=AKIAEXAMPLE`, `file:///var/images/a.png?${SECRET}`, `https://user:pa55word@127.0.0.1:1/x.png?${SECRET}`];
  const before = letters.messages.length;
  await produce(kafka, topics.input, await Promise.all(uris.map(async (uri, i) => ({
    key: `signed-${i}`,
    value: await codec.encode('ImageRequest', { id: `signed-${i}`, image: { 'io.clipn.v1.ImageUri': { uri } }, labelSetId: null, caption: null, metadata: {}, producedAt: null }),
  }))));
  await letters.waitFor('3 dead letters', (ms) => ms.length >= before + 3, 60_000);
  const mine = await Promise.all(letters.messages.slice(before).map(async (m) => (await codec.decode(m.value!, 'DeadLetter')).value));
  for (const letter of mine) {
    assert.ok(!letter.errorMessage.includes('5ec4e7f00d') && !letter.errorMessage.includes('AKIAEXAMPLE') && !letter.errorMessage.includes('pa55word'), letter.errorMessage);
  }
  assert.match(mine.find((l) => l.id === 'signed-0')!.errorMessage, /^http:\/\/127\.0\.0\.1:\d+\/bucket\/img\.png: expected HTTP 200, got 404/);
  await until('the failures logged', async () => serve.output().includes('signed-2'), 10_000, 100);
  for (const secret of ['5ec4e7f00d', 'AKIAEXAMPLE', 'pa55word']) assert.ok(!serve.output().includes(secret), `${secret} in serve's output`);
});
