/**
 * Signatures of side-channel records. The signed bytes (docs/records.md, Signed records) are a
 * fixed prefix naming the signature scheme and the record's full name, then the record's Avro
 * binary body under this version's schema with `signature` null: the same bytes in either wire
 * format, and a signature of one record type never verifies as another.
 */
import { verify } from 'node:crypto';
import { RECORD_NAMESPACE, type RecordCodec, type Signature } from '../codec/index.js';
import { ClipnError } from '../errors.js';
import type { SignedRecordName, Signer, TrustedKeys } from './types.js';

/** The first bytes of every signed payload: the scheme and its version. */
export const SIGNATURE_CONTEXT = 'clipn-signature-v1';

/** Length of an Ed25519 signature. */
const SIGNATURE_BYTES = 64;

/** The bytes a signature of `value` covers. */
export function signedBytes(codec: RecordCodec, name: SignedRecordName, value: object): Buffer {
  const body = codec.canonicalBody(name, { ...value, signature: null });
  return Buffer.concat([Buffer.from(`${SIGNATURE_CONTEXT}\n${RECORD_NAMESPACE}.${name}\n`, 'utf8'), body]);
}

/** `value` with its signature by `signer` (any earlier signature replaced). */
export function signRecord<T extends object>(codec: RecordCodec, name: SignedRecordName, value: T, signer: Signer): T & { signature: Signature } {
  return { ...value, signature: { keyId: signer.keyId, value: signer.sign(signedBytes(codec, name, value)) } };
}

/**
 * Checks the signature of a decoded record against the trusted keys and returns the signer's
 * key id. `what` names the record in the error.
 * @throws ClipnError SIGNATURE_INVALID when it is unsigned, signed by an untrusted key, or the signature does not verify.
 */
export function verifyRecord(codec: RecordCodec, name: SignedRecordName, value: { signature?: Signature | null }, keys: TrustedKeys, what: string): string {
  const trusted = [...keys.keys()].join(', ');
  const signature = value.signature ?? null;
  if (signature === null) {
    throw new ClipnError('SIGNATURE_INVALID', `${what}: expected a signature by a trusted key (${trusted}), got an unsigned record`, { details: { reason: 'unsigned' } });
  }
  const key = keys.get(signature.keyId);
  if (key === undefined) {
    throw new ClipnError('SIGNATURE_INVALID', `${what}: expected a signature by a trusted key (${trusted}), got one by key ${JSON.stringify(signature.keyId.slice(0, 64))}`, {
      details: { reason: 'untrusted-key', keyId: signature.keyId.slice(0, 64) },
    });
  }
  const ok = signature.value.length === SIGNATURE_BYTES && verify(null, signedBytes(codec, name, value), key.key, signature.value);
  if (!ok) {
    throw new ClipnError('SIGNATURE_INVALID', `${what}: the signature by key ${key.keyId} does not verify (the record was changed after signing, or it is not a ${SIGNATURE_BYTES}-byte Ed25519 signature of it)`, {
      details: { reason: 'bad-signature', keyId: key.keyId },
    });
  }
  return key.keyId;
}
