import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec, type LabelSet } from '../../src/codec/index.js';
import { isClipnError } from '../../src/errors.js';
import { generateKeyPair, loadPublicKeys, loadSigner, parsePublicKey, readingKeys, signedBytes, signerOf, signRecord, trustOptions, verifyRecord, type TrustedKeys } from '../../src/trust/index.js';
import { loadConfig } from '../../src/config/index.js';
import { exampleRecords } from '../helpers/records.js';

const codec = createCodec({ registryUrl: null });
const pair = generateKeyPair();
const other = generateKeyPair();
const signer = signerOf(createPrivateKey(pair.privatePem));
const keysOf = (...raws: string[]): TrustedKeys => new Map(loadPublicKeys(raws, '/').map((k) => [k.keyId, k]));
const labelSet = (): LabelSet => ({ ...exampleRecords().LabelSet, signature: null } as LabelSet);

const refused = (reason: string, pattern: RegExp) => (e: unknown) => {
  assert.ok(isClipnError(e, 'SIGNATURE_INVALID'), String(e));
  assert.equal(e.details.reason, reason);
  assert.match(e.message, pattern);
  return true;
};

test('a signed record verifies after the wire round trip, and names its key', async () => {
  const signed = signRecord(codec, 'LabelSet', labelSet(), signer);
  assert.equal(signed.signature.keyId, pair.keyId);
  assert.equal(signed.signature.value.length, 64);
  const { value } = await codec.decode(await codec.encode('LabelSet', signed), 'LabelSet');
  assert.equal(verifyRecord(codec, 'LabelSet', value, keysOf(pair.publicRaw), 'ls'), pair.keyId);
});

test('the signed bytes: the context line, the record name, and the body with the signature null', () => {
  const value = labelSet();
  const bytes = signedBytes(codec, 'LabelSet', { ...value, signature: { keyId: 'x', value: Buffer.alloc(64) } });
  const prefix = Buffer.from('clipn-signature-v1\nio.clipn.v1.LabelSet\n');
  assert.deepEqual(bytes.subarray(0, prefix.length), prefix);
  assert.deepEqual(bytes.subarray(prefix.length), codec.canonicalBody('LabelSet', value));
});

test('unsigned, untrusted, changed and cross-type records are refused with SIGNATURE_INVALID', async () => {
  const keys = keysOf(pair.publicRaw);
  assert.throws(() => verifyRecord(codec, 'LabelSet', labelSet(), keys, 'label set default'), refused('unsigned', /label set default: expected a signature by a trusted key \([0-9a-f]{16}\), got an unsigned record/));
  const foreign = signRecord(codec, 'LabelSet', labelSet(), signerOf(createPrivateKey(other.privatePem)));
  assert.throws(() => verifyRecord(codec, 'LabelSet', foreign, keys, 'ls'), refused('untrusted-key', new RegExp(`got one by key "${other.keyId}"`)));
  const signed = signRecord(codec, 'LabelSet', labelSet(), signer);
  assert.throws(() => verifyRecord(codec, 'LabelSet', { ...signed, version: 2 } as LabelSet, keys, 'ls'), refused('bad-signature', /does not verify/));
  assert.throws(() => verifyRecord(codec, 'LabelSet', { ...signed, signature: { ...signed.signature, value: signed.signature.value.subarray(0, 63) } }, keys, 'ls'), refused('bad-signature', /does not verify/));
  // A LabelSet's signature over the same body bytes is not a ModelRelease's: the record name is signed.
  const release = signRecord(codec, 'ModelRelease', { ...exampleRecords().ModelRelease }, signer);
  assert.equal(verifyRecord(codec, 'ModelRelease', release, keys, 'r'), pair.keyId);
  assert.throws(() => verifyRecord(codec, 'LabelSet', { ...labelSet(), signature: release.signature }, keys, 'ls'), refused('bad-signature', /does not verify/));
  // With a second trusted key (rotation) both verify.
  assert.equal(verifyRecord(codec, 'LabelSet', foreign, keysOf(pair.publicRaw, other.publicRaw), 'ls'), other.keyId);
});

test('public keys: PEM, base64 raw, files and folders; bad ones are CONFIG_INVALID naming the entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-keys-'));
  mkdirSync(join(dir, 'secret'));
  writeFileSync(join(dir, 'secret', 'a.pem'), pair.publicPem);
  writeFileSync(join(dir, 'secret', 'b'), other.publicRaw + '\n');
  writeFileSync(join(dir, 'secret', '.hidden'), 'not a key');
  writeFileSync(join(dir, 'bad.pem'), 'junk');
  assert.equal(parsePublicKey(pair.publicPem, 'x').asymmetricKeyType, 'ed25519');
  assert.deepEqual(loadPublicKeys([pair.publicPem, other.publicRaw], dir).map((k) => k.keyId), [pair.keyId, other.keyId]);
  assert.deepEqual(loadPublicKeys(['secret'], dir).map((k) => k.keyId), [pair.keyId, other.keyId]);
  assert.throws(() => loadPublicKeys(['bad.pem'], dir), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /trust.publicKeys\[0\] \(.*bad.pem\): expected an Ed25519 public key/.test(e.message));
  assert.throws(() => loadPublicKeys(['missing'], dir), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /trust.publicKeys\[0\]: expected a public key, or a readable file or folder of them, got .*missing: ENOENT/.test(e.message));
  assert.throws(() => parsePublicKey(pair.privatePem, 'k'), (e: unknown) => isClipnError(e, 'CONFIG_INVALID'));
  writeFileSync(join(dir, 'signing.pem'), pair.privatePem);
  assert.equal(loadSigner('signing.pem', dir).keyId, pair.keyId);
  assert.throws(() => loadSigner(pair.publicPem, dir), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /trust.signingKey: expected a PEM Ed25519 private key/.test(e.message));
});

test('trustOptions: no keys means nothing is verified; a key twice is refused; a publisher reads with its own key too', () => {
  const none = trustOptions(loadConfig({ env: {} }).trust, '/');
  assert.equal(none.keys, null);
  assert.equal(none.signer, null);
  assert.equal(none.maxArtifactBytes, 2 * 1024 ** 3);
  assert.throws(() => trustOptions(loadConfig({ env: { CLIPN_TRUST__PUBLIC_KEYS: `${pair.publicRaw},${pair.publicRaw}` } }).trust, '/'), (e: unknown) => isClipnError(e, 'CONFIG_INVALID') && /already configured/.test(e.message));
  const publisher = trustOptions(loadConfig({ env: { CLIPN_TRUST__PUBLIC_KEYS: other.publicRaw, CLIPN_TRUST__SIGNING_KEY: pair.privatePem } }).trust, '/');
  assert.deepEqual([...readingKeys(publisher)!.keys()].sort(), [pair.keyId, other.keyId].sort());
});
