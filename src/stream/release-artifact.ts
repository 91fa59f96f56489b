/**
 * The graph of a no-tower release, read from the artifact store the trainer writes to. Only
 * files under the configured root are read (the release topic names a path; the sidecar must
 * not read whatever it names), and the bytes must match the declared size and sha256 before
 * anything is loaded from them.
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

/** Largest no-tower graph read (a ViT-L-14 text tower is under 1 GiB). */
const MAX_ARTIFACT_BYTES = 4 * 1024 ** 3;

function refuse(version: string, why: string, cause?: unknown): never {
  throw new ClipnError('RELEASE_INVALID', `release ${version}: ${why}`, cause === undefined ? {} : { cause });
}

/** Reads and verifies the artifact of release `version`; `root` null refuses every no-tower release. */
export async function readReleaseArtifact(ref: ArtifactRef, root: string | null, version: string): Promise<Uint8Array> {
  if (root === null) refuse(version, 'no-tower releases are refused: model.releaseArtifactRoot is not set');
  let path: string;
  try {
    path = ref.uri.startsWith('file:') ? fileURLToPath(ref.uri) : ref.uri;
  } catch (error) {
    refuse(version, `artifact URI ${ref.uri} is not a file URI or path`, error);
  }
  if (!isAbsolute(path)) refuse(version, `artifact ${ref.uri}: expected an absolute path or file:// URI, got a relative one`);
  const declared = Number(ref.bytes);
  if (!Number.isSafeInteger(declared) || declared <= 0 || declared > MAX_ARTIFACT_BYTES) refuse(version, `artifact size ${ref.bytes}: expected 1 to ${MAX_ARTIFACT_BYTES} bytes`);
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
    const { size } = await fh.stat();
    if (size !== declared) refuse(version, `artifact ${path} has ${size} bytes, the release declares ${declared}`);
    const data = new Uint8Array(size);
    const { bytesRead } = await fh.read(data, 0, size, 0);
    if (bytesRead !== size) refuse(version, `artifact ${path}: read ${bytesRead} of ${size} bytes`);
    const sha = createHash('sha256').update(data).digest('hex');
    if (sha !== ref.sha256) refuse(version, `artifact ${path} sha256 ${sha} does not match the declared ${ref.sha256}`);
    return data;
  } finally {
    await fh.close();
  }
}
