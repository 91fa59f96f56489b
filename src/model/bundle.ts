/**
 * Loads a model bundle: the manifest validated, and every file it lists checked for presence,
 * size and sha256 before anything is run, so a corrupt or tampered bundle fails at start-up
 * with the name of the file, not later with an obscure ONNX Runtime error.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ClipnError } from '../errors.js';
import { manifestSchema, type Manifest } from './manifest.js';

/** A loaded, verified bundle. */
export interface Bundle {
  readonly dir: string;
  readonly manifest: Manifest;
  /** Absolute path of a file named in the manifest. */
  path(file: string): string;
}

/** sha256 of a file, streamed (bundles can hold GB-sized graphs). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readManifest(dir: string): Promise<Manifest> {
  const file = join(dir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new ClipnError(missing ? 'BUNDLE_FILE_MISSING' : 'BUNDLE_MANIFEST_INVALID', `${file}: ${missing ? 'not found (is this a model bundle folder?)' : `not valid JSON: ${(error as Error).message}`}`, {
      cause: error,
      details: { file: 'manifest.json' },
    });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ClipnError('BUNDLE_MANIFEST_INVALID', `${file}: ${issues}`, { details: { file: 'manifest.json' } });
  }
  return parsed.data;
}

function referencedFiles(m: Manifest): string[] {
  const names = [m.graphs.image.file, m.graphs.text.file, m.graphs.textNo.file, m.tokenizer.file, m.prompt.file];
  if (m.templates) names.push(m.templates.file);
  return names;
}

/** Loads and verifies the bundle in `dir`. */
export async function loadBundle(dir: string): Promise<Bundle> {
  const root = resolve(dir);
  const manifest = await readManifest(root);
  for (const name of referencedFiles(manifest)) {
    if (!(name in manifest.files)) {
      throw new ClipnError('BUNDLE_MANIFEST_INVALID', `${root}/manifest.json: ${name} is used but has no entry in "files"`, { details: { file: name } });
    }
  }
  await Promise.all(
    Object.entries(manifest.files).map(async ([name, entry]) => {
      const path = join(root, name);
      const info = await stat(path).catch(() => null);
      if (info === null || !info.isFile()) {
        throw new ClipnError('BUNDLE_FILE_MISSING', `bundle ${root}: ${name} is missing`, { details: { file: name } });
      }
      if (info.size !== entry.bytes) {
        throw new ClipnError('BUNDLE_CHECKSUM_MISMATCH', `bundle ${root}: ${name} has ${info.size} bytes, the manifest says ${entry.bytes}`, {
          details: { file: name, expectedBytes: entry.bytes, gotBytes: info.size },
        });
      }
      const sha = await sha256File(path);
      if (sha !== entry.sha256) {
        throw new ClipnError('BUNDLE_CHECKSUM_MISMATCH', `bundle ${root}: ${name} has sha256 ${sha}, the manifest says ${entry.sha256}`, {
          details: { file: name, expected: entry.sha256, got: sha },
        });
      }
    }),
  );
  return Object.freeze({ dir: root, manifest, path: (file: string) => join(root, file) });
}

/** Checks a prompt tensor (from the bundle or a release): shape, finite values. */
export function checkPrompt(values: Float32Array, shape: readonly [number, number], what: string): Float32Array {
  const expected = shape[0] * shape[1];
  if (values.length !== expected) {
    throw new ClipnError('RELEASE_INVALID', `${what}: expected ${shape[0]}x${shape[1]} = ${expected} float32 values, got ${values.length}`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new ClipnError('RELEASE_INVALID', `${what}: value ${i} is not finite (${values[i]})`);
  }
  return values;
}

/** Little-endian float32 bytes to a Float32Array (copied: Buffers may be unaligned). */
export function float32FromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new ClipnError('RELEASE_INVALID', `float32 data: ${bytes.byteLength} bytes is not a multiple of 4`);
  const out = new Float32Array(bytes.byteLength / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** The bundle's current mean "no" prompt, [contextLength * width], checked against the manifest's prompt sha256. */
export async function readPrompt(bundle: Bundle): Promise<Float32Array> {
  const { prompt } = bundle.manifest;
  const bytes = await readFile(bundle.path(prompt.file));
  // Hashed again here: the file may have changed since loadBundle, and prompt.sha256 is its own field.
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== prompt.sha256) {
    throw new ClipnError('BUNDLE_CHECKSUM_MISMATCH', `bundle ${bundle.dir}: ${prompt.file} has sha256 ${sha}, the manifest's prompt.sha256 says ${prompt.sha256}`, {
      details: { file: prompt.file, expected: prompt.sha256, got: sha },
    });
  }
  return checkPrompt(float32FromBytes(bytes), prompt.shape, `${bundle.dir}/${prompt.file}`);
}

/** The bundle's default templates (one `{}` format string a line), if it ships any. */
export async function readTemplates(bundle: Bundle): Promise<string[] | null> {
  if (!bundle.manifest.templates) return null;
  const text = await readFile(bundle.path(bundle.manifest.templates.file), 'utf8');
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim().length > 0);
}
