/**
 * Trust in the side channels: label sets and model releases signed with Ed25519 (node:crypto)
 * over canonical bytes, verified by sidecars against trusted public keys (trust.publicKeys), and
 * signed by the trainer and the CLI with trust.signingKey.
 */
export type { Signature, SignedRecordName, Signer, TrustedKey, TrustedKeys } from './types.js';
export { generateKeyPair, keyIdOf, loadPublicKeys, loadSigner, parsePublicKey, rawPublicKey, signerOf } from './keys.js';
export { SIGNATURE_CONTEXT, signedBytes, signRecord, verifyRecord } from './signing.js';
export { readingKeys, trustOptions, type TrustOptions } from './options.js';
