import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KafkaMessage } from 'kafkajs';
import { createCodec, type ModelRelease } from '../../src/codec/index.js';
import type { ClipnError } from '../../src/errors.js';
import { checkOrder, promptNumber, releaseHandler, type ReleasePolicy } from '../../src/stream/release-watcher.js';
import { Serial } from '../../src/stream/serial.js';
import { ServingState } from '../../src/stream/serving-state.js';
import { generateKeyPair, loadPublicKeys, signerOf, signRecord, type Signer } from '../../src/trust/index.js';
import { DEMO_BUNDLE as DEMO, loadDemoClassifier } from '../helpers/demo-classifier.js';

const MANIFEST = JSON.parse(readFileSync(join(DEMO, 'manifest.json'), 'utf8')) as { modelVersion: string; prompt: { shape: number[] } };
const BASE = MANIFEST.modelVersion;
const PROMPT = readFileSync(join(DEMO, 'prompt.bin'));
const codec = createCodec({ registryUrl: null });
const trainer = generateKeyPair();
const trainerSigner: Signer = signerOf(createPrivateKey(trainer.privatePem));
const intruder: Signer = signerOf(createPrivateKey(generateKeyPair().privatePem));
const trusted = new Map(loadPublicKeys([trainer.publicRaw], '/').map((k) => [k.keyId, k]));

async function channel(policy: ReleasePolicy) {
  const classifier = await loadDemoClassifier();
  const state = new ServingState(classifier);
  const seen = { applied: [] as string[], refused: [] as Array<{ code: string; reason: unknown; message: string }> };
  const handle = releaseHandler(codec, state, new Serial(), 'demo', {
    applied: (_k, _id, version) => seen.applied.push(version),
    removed: () => undefined,
    refused: (_k, _id, e: ClipnError) => seen.refused.push({ code: e.code, reason: e.details.reason, message: e.message }),
  }, null, policy);
  return { state, seen, handle };
}

const release = (version: string, sequence: number, rollback = false): ModelRelease => ({
  model: 'demo', version, parentVersion: null, kind: 'prompt', baseModelVersion: BASE,
  prompt: { shape: [...MANIFEST.prompt.shape], dtype: 'float32', data: PROMPT, sha256: createHash('sha256').update(PROMPT).digest('hex') },
  artifact: null, lineage: { sampleCount: 1, metrics: {}, kernelArgs: {} }, createdAt: 1, sequence, rollback,
});

async function message(r: ModelRelease, signer?: Signer): Promise<KafkaMessage> {
  const value = await codec.encode('ModelRelease', signer ? signRecord(codec, 'ModelRelease', r, signer) : r);
  return { key: Buffer.from(r.model), value, offset: '0', timestamp: '0', attributes: 0, headers: {} } as KafkaMessage;
}

test('promptNumber and checkOrder: sequences only grow; versions too, unless rolled back', () => {
  assert.equal(promptNumber(`${BASE}/p12`, BASE), 12);
  assert.equal(promptNumber(`${BASE}/p1x`, BASE), null);
  assert.equal(promptNumber(`other/p1`, BASE), null);
  assert.doesNotThrow(() => checkOrder(release(`${BASE}/p2`, 5), 4, `${BASE}/p1`, BASE));
  assert.throws(() => checkOrder(release(`${BASE}/p2`, 4), 4, `${BASE}/p1`, BASE), /sequence 4 is not above 4, the last release applied/);
  assert.throws(() => checkOrder(release(`${BASE}/p1`, 5), 4, `${BASE}/p2`, BASE), /expected a version above the serving .*\/p2; going back needs a signed rollback/);
  assert.doesNotThrow(() => checkOrder(release(`${BASE}/p1`, 5, true), 4, `${BASE}/p2`, BASE));
  assert.throws(() => checkOrder(release('free-text', 5), 4, `${BASE}/p2`, BASE), /expected a version .*\/p<n> \(only a rollback may name another\)/);
});

test('without keys: any release that fits applies, in any order (as before)', async () => {
  const { state, seen, handle } = await channel({ keys: null, maxArtifactBytes: 1024 });
  await handle(await message(release(`${BASE}/p2`, 0)));
  await handle(await message(release(`${BASE}/p1`, 0)));
  assert.deepEqual(seen.applied, [`${BASE}/p2`, `${BASE}/p1`]);
  assert.equal(state.current.classifier.promptVersion, `${BASE}/p1`);
});

test('with keys: unsigned and foreign releases are refused, the trainer\'s apply, old ones produced again are refused, a signed rollback applies', async () => {
  const { state, seen, handle } = await channel({ keys: trusted, maxArtifactBytes: 1024 });
  await handle(await message(release(`${BASE}/p1`, 1)));
  await handle(await message(release(`${BASE}/p1`, 1), intruder));
  assert.deepEqual(seen.refused.map((r) => [r.code, r.reason]), [['SIGNATURE_INVALID', 'unsigned'], ['SIGNATURE_INVALID', 'untrusted-key']]);
  const p1 = await message(release(`${BASE}/p1`, 1), trainerSigner);
  await handle(p1);
  await handle(p1); // read again: already serving
  await handle(await message(release(`${BASE}/p2`, 2), trainerSigner));
  assert.deepEqual(seen.applied, [`${BASE}/p1`, `${BASE}/p2`]);
  await handle(p1); // the old signed release produced again
  await handle(await message(release(`${BASE}/p1`, 3), trainerSigner)); // newer sequence, older version, no rollback mark
  assert.deepEqual(seen.refused.slice(2).map((r) => [r.code, r.reason]), [['RELEASE_INVALID', 'stale'], ['RELEASE_INVALID', 'stale']]);
  assert.equal(state.current.classifier.promptVersion, `${BASE}/p2`);
  await handle(await message(release(`${BASE}/p1`, 3, true), trainerSigner));
  assert.equal(state.current.classifier.promptVersion, `${BASE}/p1`);
  await handle(await message(release(`${BASE}/p3`, 4), trainerSigner));
  await handle(await message(release(`${BASE}/p0`, 5, true), trainerSigner)); // back to the bundle's own prompt
  assert.deepEqual(seen.applied.slice(2), [`${BASE}/p1`, `${BASE}/p3`, `${BASE}/p0`]);
  assert.equal(seen.refused.length, 4);
});
