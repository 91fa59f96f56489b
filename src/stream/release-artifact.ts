/**
 * The graph of a no-tower release, read from the artifact store the trainer writes to. Only
 * files under the configured root are read (the release topic names a path; the sidecar must
 * not read whatever it names), and the bytes must match the declared size and sha256 before
 * anything is loaded from them. The declared size is bounded and compared with the file's size
 * on disk, and the file is hashed as a stream, before its bytes are held in memory; the bytes
 * read are hashed again, so a file changed in between is refused too.
 */
import { createHash } from 'node:crypto';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipnError } from '../errors.js';

/** A release's artifact reference (ModelRelease.artifact). */
export interface ArtifactRef {
  uri: string;
  sha256: string;
  bytes: number | bigint;
}

/** Default largest no-tower graph read (trust.maxArtifactBytes; a ViT-L-14 text tower is under 1 GiB). */
export const DEFAULT_MAX_ARTIFACT_BYTES = 2 * 1024 ** 3;

/** Read size of the streamed hash. */
const CHUNK_BYTES = 1024 * 1024;

function refuse(version: string, why: string, cause?: unknown): never {
  throw new ClipnError('RELEASE_INVALID', `release ${version}: ${why}`, cause === undefined ? {} : { cause });
}

/**
 * Reads and verifies the artifact of release `version`; `root` null refuses every no-tower
 * release, and a declared size over `maxBytes` any that large.
 */
export async function readReleaseArtifact(ref: ArtifactRef, root: string | null, version: string, maxBytes = DEFAULT_MAX_ARTIFACT_BYTES): Promise<Uint8Array> {
  if (root === null) refuse(version, 'no-tower releases are refused: model.releaseArtifactRoot is not set');
  let path: string;
  try {
    path = ref.uri.startsWith('file:') ? fileURLToPath(ref.uri) : ref.uri;
  } catch (error) {
    refuse(version, `artifact URI ${ref.uri} is not a file URI or path`, error);
  }
  if (!isAbsolute(path)) refuse(version, `artifact ${ref.uri}: expected an absolute path or file:// URI, got a relative one`);
  const declared = Number(ref.bytes);
  if (!Number.isSafeInteger(declared) || declared <= 0 || declared > maxBytes) refuse(version, `artifact size ${ref.bytes}: expected 1 to ${maxBytes} bytes (trust.maxArtifactBytes)`);
  if (!/^[0-9a-f]{64}$/.test(ref.sha256)) refuse(version, `artifact sha256: expected 64 lowercase hex digits, got ${JSON.stringify(ref.sha256.slice(0, 80))}`);
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(path), realpath(root)]);
  } catch (error) {
    refuse(version, `artifact ${path} cannot be read: ${(error as Error).message}`, error);
  }
  const rel = relative(realRoot, real);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) refuse(version, `artifact ${path} is outside model.releaseArtifactRoot (${root})`);
  const fh = await open(real, 'r').catch((error: unknown) => refuse(version, `artifact ${path} cannot be opened`, error));
  try {
    const info = await fh.stat();
    if (!info.isFile()) refuse(version, `artifact ${path}: expected a regular file`);
    if (info.size !== declared) refuse(version, `artifact ${path} has ${info.size} bytes, the release declares ${declared}`);
    // Hashed in chunks first: a file whose hash does not match is never held in memory.
    const streamed = createHash('sha256');
    const chunk = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, declared));
    for (let at = 0; at < declared; ) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(chunk.length, declared - at), at);
      if (bytesRead === 0) refuse(version, `artifact ${path}: ended after ${at} of ${declared} bytes`);
      streamed.update(chunk.subarray(0, bytesRead));
      at += bytesRead;
    }
    const sha = streamed.digest('hex');
    if (sha !== ref.sha256) refuse(version, `artifact ${path} sha256 ${sha} does not match the declared ${ref.sha256}`);
    const data = new Uint8Array(declared);
    const { bytesRead } = await fh.read(data, 0, declared, 0);
    if (bytesRead !== declared) refuse(version, `artifact ${path}: read ${bytesRead} of ${declared} bytes`);
    if (createHash('sha256').update(data).digest('hex') !== ref.sha256) refuse(version, `artifact ${path} changed while it was read`);
    return data;
  } finally {
    await fh.close();
  }
}
