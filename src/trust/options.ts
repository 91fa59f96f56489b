/** Options of side-channel trust (the `trust` config section), read once at start-up. */
import type { Config } from '../config/index.js';
import { ClipnError } from '../errors.js';
import { loadPublicKeys, loadSigner } from './keys.js';
import type { Signer, TrustedKey, TrustedKeys } from './types.js';

/** What the services take from the trust section. */
export interface TrustOptions {
  /** The trusted keys by id; null when none is configured (records are not verified). */
  readonly keys: TrustedKeys | null;
  /** The key that signs what this process publishes (trainer, CLI); null signs nothing. */
  readonly signer: Signer | null;
  /** Largest no-tower artifact a release may declare, in bytes. */
  readonly maxArtifactBytes: number;
}

/**
 * The trusted keys and the signer of `trust` (paths relative to `root`).
 * @throws ClipnError CONFIG_INVALID for a key that cannot be read or parsed, or one configured twice.
 */
export function trustOptions(trust: Config['trust'], root: string): TrustOptions {
  const loaded = loadPublicKeys(trust.publicKeys, root);
  const keys = new Map<string, TrustedKey>();
  for (const key of loaded) {
    const seen = keys.get(key.keyId);
    if (seen !== undefined) throw new ClipnError('CONFIG_INVALID', `trust.publicKeys: key ${key.keyId} from ${key.source} is already configured by ${seen.source}`);
    keys.set(key.keyId, key);
  }
  return Object.freeze({
    keys: keys.size === 0 ? null : keys,
    signer: trust.signingKey === null ? null : loadSigner(trust.signingKey, root),
    maxArtifactBytes: trust.maxArtifactBytes,
  });
}

/**
 * The keys a publisher checks what it reads against (the serving release, label sets): the
 * trusted keys and its own signing key; null when it has neither (nothing is verified).
 */
export function readingKeys(trust: TrustOptions): TrustedKeys | null {
  if (trust.signer === null) return trust.keys;
  const keys = new Map<string, TrustedKey>(trust.keys ?? []);
  keys.set(trust.signer.keyId, { keyId: trust.signer.keyId, key: trust.signer.publicKey, source: 'trust.signingKey' });
  return keys;
}
