import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { DEFAULT_LABEL_SET_CAPS } from '../../src/clipn/index.js';
import { createCodec } from '../../src/codec/index.js';
import type { ClipnError } from '../../src/errors.js';
import { labelSetHandler, type LabelSetPolicy } from '../../src/stream/label-set-watcher.js';
import { Serial } from '../../src/stream/serial.js';
import { ServingState } from '../../src/stream/serving-state.js';
import { generateKeyPair, loadPublicKeys, signerOf, signRecord, type Signer } from '../../src/trust/index.js';
import { loadDemoClassifier } from '../helpers/demo-classifier.js';

const codec = createCodec({ registryUrl: null });
const operator = generateKeyPair();
const intruder = generateKeyPair();
const signerOfPair = (p: { privatePem: string }): Signer => signerOf(createPrivateKey(p.privatePem));
const trusted = new Map(loadPublicKeys([operator.publicRaw], '/').map((k) => [k.keyId, k]));

interface Seen {
  applied: string[];
  removed: string[];
  refused: Array<{ id: string; code: string; reason: unknown; message: string }>;
}

async function channel(policy: LabelSetPolicy) {
  const classifier = await loadDemoClassifier();
  const state = new ServingState(classifier);
  const seen: Seen = { applied: [], removed: [], refused: [] };
  const handle = labelSetHandler(codec, state, new Serial(), {
    applied: (_k, id, version) => seen.applied.push(`${id}@${version}`),
    removed: (_k, id) => seen.removed.push(id),
    refused: (_k, id, e: ClipnError) => seen.refused.push({ id, code: e.code, reason: e.details.reason, message: e.message }),
  }, DEFAULT_LABEL_SET_CAPS, () => null, policy);
  return { state, seen, handle };
}

const record = (id: string, version: number, extra: Record<string, unknown> = {}) => ({
  id, version, labels: ['circle', 'square'], templates: null, routing: { rule: 'atd', params: {} }, thresholds: null, description: null, updatedAt: 1, ...extra,
});

async function message(key: string, value: Record<string, unknown> | null, signer?: Signer): Promise<KafkaMessage> {
  const v = value === null ? null : await codec.encode('LabelSet', signer ? signRecord(codec, 'LabelSet', value, signer) : value);
  return { key: Buffer.from(key), value: v, offset: '0', timestamp: '0', attributes: 0, headers: {} } as KafkaMessage;
}

test('without keys: unsigned label sets apply; a tombstone or a deletion of the default label set is refused, of another one removes it', async () => {
  const { state, seen, handle } = await channel({ keys: null, defaultLabelSet: 'default' });
  await handle(await message('default', record('default', 1)));
  await handle(await message('other', record('other', 1)));
  assert.deepEqual(seen.applied, ['default@1', 'other@1']);
  await handle(await message('default', null));
  await handle(await message('default', record('default', 2, { deleted: true })));
  assert.ok(state.current.labelSets.has('default'), 'the default label set still serves');
  assert.deepEqual(seen.refused.map((r) => [r.code, r.reason]), [['LABEL_SET_INVALID', 'tombstone'], ['LABEL_SET_INVALID', 'delete-default']]);
  await handle(await message('other', null));
  assert.deepEqual(seen.removed, ['other']);
  await handle(await message('other', record('other', 1)));
  await handle(await message('other', record('other', 2, { deleted: true })));
  assert.deepEqual(seen.removed, ['other', 'other']);
  assert.ok(!state.current.labelSets.has('other'));
});

test('with keys: only the trusted key\'s records apply, versions only move forward, and the same record read again is ignored', async () => {
  const { state, seen, handle } = await channel({ keys: trusted, defaultLabelSet: 'default' });
  const op = signerOfPair(operator);
  await handle(await message('default', record('default', 1)));
  await handle(await message('default', record('default', Number.MAX_SAFE_INTEGER - 1), signerOfPair(intruder)));
  assert.deepEqual(seen.refused.map((r) => [r.code, r.reason]), [['SIGNATURE_INVALID', 'unsigned'], ['SIGNATURE_INVALID', 'untrusted-key']]);
  assert.equal(state.current.labelSets.has('default'), false);
  const v1 = await message('default', record('default', 1), op);
  await handle(v1);
  await handle(v1); // read again (a restarted channel): nothing happens
  await handle(await message('default', record('default', 1, { updatedAt: 2 }), op)); // put again unchanged (a chart upgrade)
  await handle(await message('default', record('default', 2), op));
  assert.deepEqual(seen.applied, ['default@1', 'default@2']);
  await handle(v1); // an old signed record produced again
  await handle(await message('default', record('default', 2, { description: 'same version, other content' }), op));
  assert.deepEqual(seen.refused.slice(2).map((r) => [r.code, r.reason]), [['LABEL_SET_INVALID', 'stale'], ['LABEL_SET_INVALID', 'stale']]);
  assert.match(seen.refused[2]!.message, /expected a version above 2, the last one applied/);
  assert.equal(state.current.labelSets.get('default')!.labelSet.version, 2);
  // The operator can still move on: a record of the operator's key at 2^53-2 (avsc's largest long) would pin it, the intruder's cannot.
  await handle(await message('default', record('default', 3), op));
  assert.equal(state.current.labelSets.get('default')!.labelSet.version, 3);
});

test('with keys: tombstones are refused; a signed deletion removes a label set, the default one included, and its version stays the mark', async () => {
  const { state, seen, handle } = await channel({ keys: trusted, defaultLabelSet: 'default' });
  const op = signerOfPair(operator);
  await handle(await message('default', record('default', 1), op));
  await handle(await message('other', record('other', 1), op));
  await handle(await message('other', null));
  await handle(await message('default', null));
  assert.deepEqual(seen.refused.map((r) => [r.code, r.reason]), [['SIGNATURE_INVALID', 'tombstone'], ['LABEL_SET_INVALID', 'tombstone']]);
  await handle(await message('other', record('other', 2, { deleted: true }), signerOfPair(intruder)));
  assert.ok(state.current.labelSets.has('other'));
  await handle(await message('other', record('other', 2, { deleted: true, labels: [] }), op));
  assert.deepEqual(seen.removed, ['other']);
  await handle(await message('other', record('other', 1), op)); // the old version produced again after the deletion
  assert.equal(state.current.labelSets.has('other'), false);
  assert.equal(seen.refused.at(-1)!.reason, 'stale');
  await handle(await message('default', record('default', 2, { deleted: true }), op));
  assert.deepEqual(seen.removed, ['other', 'default']);
});
