/**
 * Ed25519 keys for signed side channels (node:crypto): trusted public keys as PEM (SPKI), as the
 * base64 of the raw 32-byte key, or as files or folders holding either; the private key as
 * PKCS#8 PEM, inline or in a file. A key's id is derived from the key itself.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ClipnError } from '../errors.js';
import type { Signer, TrustedKey } from './types.js';

const RAW_KEY = /^[A-Za-z0-9+/]{43}=$/;

function invalid(what: string, expected: string, got: string, cause?: unknown): ClipnError {
  return new ClipnError('CONFIG_INVALID', `${what}: expected ${expected}, got ${got}`, cause === undefined ? {} : { cause });
}

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  return Buffer.from(jwk.x ?? '', 'base64url');
}

/** The key id: the first 16 hex digits of the sha256 of the raw public key. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(publicKey)).digest('hex').slice(0, 16);
}

/** An Ed25519 public key from PEM or base64 raw text; `what` names it in errors. */
export function parsePublicKey(text: string, what: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (RAW_KEY.test(trimmed)) key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(trimmed, 'base64').toString('base64url') }, format: 'jwk' });
    else if (/^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(trimmed)) throw invalid(what, 'a public key', 'a private key (it belongs in trust.signingKey of the signer only)');
    else if (trimmed.startsWith('-----BEGIN')) key = createPublicKey(trimmed);
    else throw invalid(what, 'an Ed25519 public key (PEM, or the base64 of its 32 raw bytes)', `${trimmed.length} characters of neither`);
  } catch (error) {
    if (error instanceof ClipnError) throw error;
    throw invalid(what, 'an Ed25519 public key (PEM, or the base64 of its 32 raw bytes)', (error as Error).message, error);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw invalid(what, 'an Ed25519 public key', `a ${key.asymmetricKeyType ?? key.type} key`);
  return key;
}

function isInline(spec: string): boolean {
  return RAW_KEY.test(spec.trim()) || spec.trim().startsWith('-----BEGIN');
}

/**
 * The trusted keys of trust.publicKeys: each entry is a key (PEM or base64 raw), a file holding
 * one, or a folder whose visible files each hold one (a mounted Kubernetes Secret). Relative
 * paths are relative to `root`.
 * @throws ClipnError CONFIG_INVALID naming the entry or file.
 */
export function loadPublicKeys(specs: readonly string[], root: string): TrustedKey[] {
  const out: TrustedKey[] = [];
  const add = (text: string, source: string) => {
    const key = parsePublicKey(text, source);
    out.push({ keyId: keyIdOf(key), key, source });
  };
  specs.forEach((spec, i) => {
    const what = `trust.publicKeys[${i}]`;
    if (isInline(spec)) return add(spec, what);
    const path = isAbsolute(spec) ? spec : resolve(root, spec);
    let files: string[];
    try {
      files = statSync(path).isDirectory()
        ? readdirSync(path).filter((f) => !f.startsWith('.')).sort().map((f) => join(path, f)).filter((f) => statSync(f).isFile())
        : [path];
    } catch (error) {
      throw invalid(what, 'a public key, or a readable file or folder of them', `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
    }
    if (files.length === 0) throw invalid(what, 'a folder holding at least one public key file', `${path} with none`);
    for (const file of files) add(readFileSync(file, 'utf8'), `${what} (${file})`);
  });
  return out;
}

/**
 * The signer of trust.signingKey: a PKCS#8 PEM Ed25519 private key, inline or in a file
 * (relative to `root`).
 * @throws ClipnError CONFIG_INVALID when it cannot be read or is not an Ed25519 private key.
 */
export function loadSigner(spec: string, root: string, what = 'trust.signingKey'): Signer {
  let text = spec;
  if (!spec.trim().startsWith('-----BEGIN')) {
    const path = isAbsolute(spec) ? spec : resolve(root, spec);
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw invalid(what, 'a PEM Ed25519 private key or a readable file holding one', `${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
    }
    what = `${what} (${path})`;
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch (error) {
    throw invalid(what, 'a PEM Ed25519 private key', (error as Error).message, error);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw invalid(what, 'an Ed25519 private key', `a ${key.asymmetricKeyType ?? key.type} key`);
  return signerOf(key);
}

/** A signer for an Ed25519 private key object. */
export function signerOf(privateKey: KeyObject): Signer {
  const publicKey = createPublicKey(privateKey);
  return { keyId: keyIdOf(publicKey), publicKey, sign: (payload) => sign(null, payload, privateKey) };
}

/** A new key pair: the private key as PKCS#8 PEM, the public key as SPKI PEM and as base64 raw, and its id. */
export function generateKeyPair(): { privatePem: string; publicPem: string; publicRaw: string; keyId: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicRaw: rawPublicKey(publicKey).toString('base64'),
    keyId: keyIdOf(publicKey),
  };
}
