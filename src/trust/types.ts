/** Public types of side-channel signing. */
import type { KeyObject } from 'node:crypto';
import type { Signature } from '../codec/index.js';

/** The records that carry signatures: the side channels that change what every sidecar does. */
export type SignedRecordName = 'LabelSet' | 'ModelRelease';

/** A trusted Ed25519 public key. */
export interface TrustedKey {
  /** First 16 hex digits of the sha256 of the raw 32-byte public key (Signature.keyId). */
  readonly keyId: string;
  readonly key: KeyObject;
  /** Where it was configured (a file, or "trust.publicKeys[i]"), for messages. */
  readonly source: string;
}

/** The keys a sidecar verifies side-channel records against, by key id. */
export type TrustedKeys = ReadonlyMap<string, TrustedKey>;

/** An Ed25519 private key that signs records. */
export interface Signer {
  readonly keyId: string;
  /** Its public key (a process trusts what it signed itself). */
  readonly publicKey: KeyObject;
  /** The 64-byte signature of `payload`. */
  sign(payload: Buffer): Buffer;
}

export type { Signature };
