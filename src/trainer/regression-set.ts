/**
 * The regression set every candidate is checked on, concept by concept: the held-out reviewed
 * samples of every concept reviewed so far, and the held-out image sets the bundle ships. The
 * trainer works on embeddings, so the bundle's images are embedded once with the bundle's image
 * graph (the classifier's decode and embed, as the sidecar does) and cached by file list.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname, join, relative, resolve, sep } from 'node:path';
import { ClipnClassifier } from '../clipn/index.js';
import { ClipnError, toClipnError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { RegressionSettings } from './options.js';
import type { Sample } from './types.js';

/** One source of the regression set: its ID images and its OOD images by concept. */
export interface RegressionPart {
  /** "reviewed" or "bundle"; concept keys are `<source>/<concept>`. */
  readonly source: string;
  /** ID embeddings with, per image, its true label (null: not known, left out of accuracy). */
  readonly id: { readonly embeddings: readonly Float32Array[]; readonly truth: ReadonlyArray<string | null> };
  /** OOD embeddings by concept name. */
  readonly concepts: ReadonlyMap<string, readonly Float32Array[]>;
}

/** The concept an OOD sample without a concept name (none_of_labels) is counted under. */
export const UNNAMED_CONCEPT = 'none-of-the-labels';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif']);
/** Images decoded and embedded at once while filling the cache. */
const EMBED_BATCH = 32;

/**
 * The reviewed part: held-out samples, ID ones (truth: the reviewer's label; sampled traffic has
 * none) and OOD ones grouped by the concept the reviewer named.
 */
export function reviewedPart(heldOut: readonly Sample[]): RegressionPart {
  const ids: Float32Array[] = [];
  const truth: Array<string | null> = [];
  const concepts = new Map<string, Float32Array[]>();
  for (const s of heldOut) {
    if (s.kind === 'id') {
      ids.push(s.embedding);
      truth.push(s.source === 'decision' ? s.group : null);
    } else {
      const name = s.group ?? UNNAMED_CONCEPT;
      concepts.set(name, [...(concepts.get(name) ?? []), s.embedding]);
    }
  }
  return { source: 'reviewed', id: { embeddings: ids, truth }, concepts };
}

/**
 * The folder of held-out images to guard: trainer.regression.heldOutDir, else (when allowed) the
 * one the bundle names in its quality record (quality.json "heldOut", relative to the bundle).
 * @throws ClipnError CONFIG_INVALID when the configured folder has no id/ folder; a folder the
 * bundle names but does not ship is left out (null), as when it names none.
 */
export async function heldOutDirOf(bundleDir: string, settings: RegressionSettings): Promise<string | null> {
  if (settings.heldOutDir !== null) {
    if (!(await isDir(join(settings.heldOutDir, 'id')))) {
      throw new ClipnError('CONFIG_INVALID', `trainer.regression.heldOutDir ${settings.heldOutDir}: expected a folder with id/<label>/ image folders (and ood/<concept>/), got no id/ folder`, { details: { field: 'trainer.regression.heldOutDir' } });
    }
    return settings.heldOutDir;
  }
  if (!settings.useBundleHeldOut) return null;
  const text = await readFile(join(bundleDir, 'quality.json'), 'utf8').catch(() => null);
  if (text === null) return null;
  let declared: unknown;
  try {
    declared = (JSON.parse(text) as { heldOut?: unknown }).heldOut;
  } catch {
    return null;
  }
  if (typeof declared !== 'string' || declared.length === 0) return null;
  const dir = resolve(bundleDir, declared);
  return (await isDir(join(dir, 'id'))) ? dir : null;
}

interface CachedEntry {
  file: string;
  kind: 'id' | 'ood';
  name: string;
  embedding: string;
}

/**
 * The bundle part: every image under <dir>/id/<label>/ and <dir>/ood/<concept>/, embedded with
 * the classifier's image graph. Cached in `cacheDir` under a key of the model version and the
 * files (path, size, mtime); images that cannot be decoded are left out and logged.
 */
export async function bundlePart(classifier: ClipnClassifier, dir: string, cacheDir: string, logger: Logger): Promise<RegressionPart> {
  const files = [...(await imagesUnder(dir, 'id')), ...(await imagesUnder(dir, 'ood'))];
  const stats = await Promise.all(files.map((f) => stat(join(dir, f.file))));
  const key = createHash('sha256')
    .update([classifier.modelVersion, resolve(dir), ...files.map((f, i) => `${f.file}\t${stats[i]!.size}\t${stats[i]!.mtimeMs}`)].join('\n'))
    .digest('hex')
    .slice(0, 32);
  const cacheFile = join(cacheDir, `${key}.json`);
  let entries = await readCache(cacheFile);
  if (entries === null) {
    const started = performance.now();
    entries = await embedFiles(classifier, dir, files, logger);
    await writeCache(cacheDir, cacheFile, entries);
    logger.info({ dir, images: entries.length, seconds: Math.round((performance.now() - started) / 100) / 10, cache: cacheFile }, 'regression set: held-out images embedded');
  }
  const ids: Float32Array[] = [];
  const truth: string[] = [];
  const concepts = new Map<string, Float32Array[]>();
  for (const e of entries) {
    const embedding = decodeEmbedding(e.embedding);
    if (e.kind === 'id') {
      ids.push(embedding);
      truth.push(e.name);
    } else concepts.set(e.name, [...(concepts.get(e.name) ?? []), embedding]);
  }
  return { source: 'bundle', id: { embeddings: ids, truth }, concepts };
}

/** A cached embedding (base64 of float32 bytes) as its own Float32Array. */
export function decodeEmbedding(base64: string): Float32Array {
  // Copied out: a small Buffer is a view into Node's shared pool, not an ArrayBuffer of its own.
  const bytes = Buffer.from(base64, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Image files under <dir>/<kind>/<name>/ (any depth), relative to dir, sorted; name = the first folder. */
async function imagesUnder(dir: string, kind: 'id' | 'ood'): Promise<Array<{ file: string; kind: 'id' | 'ood'; name: string }>> {
  const root = join(dir, kind);
  const names = await readdir(root, { recursive: true }).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  return names
    .filter((n) => n.includes(sep) && IMAGE_EXTENSIONS.has(extname(n).toLowerCase()))
    .sort()
    .map((n) => ({ file: relative(dir, join(root, n)), kind, name: n.split(sep)[0]! }));
}

async function embedFiles(classifier: ClipnClassifier, dir: string, files: ReadonlyArray<{ file: string; kind: 'id' | 'ood'; name: string }>, logger: Logger): Promise<CachedEntry[]> {
  const out: CachedEntry[] = [];
  const dim = classifier.bundle.manifest.architecture.embedDim;
  for (let start = 0; start < files.length; start += EMBED_BATCH) {
    const chunk = files.slice(start, start + EMBED_BATCH);
    const decoded = await Promise.all(
      chunk.map(async (f) => {
        try {
          return { ...f, tensor: (await classifier.decode(await readFile(join(dir, f.file)))).tensor };
        } catch (error) {
          const e = toClipnError(error, 'IMAGE_DECODE_FAILED');
          logger.warn({ file: join(dir, f.file), code: e.code }, `regression set: image left out: ${e.message}`);
          return null;
        }
      }),
    );
    const ok = decoded.filter((d) => d !== null);
    if (ok.length === 0) continue;
    const embeds = await classifier.embed(ClipnClassifier.stack(ok.map((d) => d.tensor)), ok.length);
    ok.forEach((d, i) => {
      const e = embeds.slice(i * dim, (i + 1) * dim);
      out.push({ file: d.file, kind: d.kind, name: d.name, embedding: Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64') });
    });
  }
  return out;
}

async function readCache(file: string): Promise<CachedEntry[] | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as { entries?: unknown };
    return Array.isArray(v.entries) ? (v.entries as CachedEntry[]) : null;
  } catch {
    return null; // a damaged cache is rebuilt
  }
}

/** Writes the cache atomically and drops caches of other keys (another model or file list). */
async function writeCache(dir: string, file: string, entries: CachedEntry[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) if (join(dir, name) !== file) await rm(join(dir, name), { force: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify({ entries }));
  await rename(tmp, file);
}

async function isDir(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}
