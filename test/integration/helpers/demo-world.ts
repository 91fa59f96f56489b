/** The demo model's world as the end-to-end training tests use it: its bundle files, images rendered by the kernel, input records and review decisions. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCodec } from '../../../src/codec/index.js';
import { ROOT } from '../../helpers/clipn-cli.js';

const codec = createCodec({ registryUrl: null });

/** The training venv's Python (runs the kernel's demo image generator). */
export const PYTHON = join(ROOT, 'training', '.venv', 'bin', 'python');
/** The demo bundle's labels. */
export const DEMO = JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'labels.json'), 'utf8')) as { labels: string[] };
/** The demo bundle's manifest (model and prompt versions). */
export const MANIFEST = JSON.parse(readFileSync(join(ROOT, 'models', 'demo', 'manifest.json'), 'utf8')) as { modelVersion: string; prompt: { version: string } };
/** The demo bundle's caption templates (each with a `{}` for the class). */
export const TEMPLATES = readFileSync(join(ROOT, 'models', 'demo', 'templates.txt'), 'utf8').split('\n').filter((l) => l.includes('{}'));

/** One demo-world image and its truth. */
export interface DemoImage {
  id: string;
  shape: string;
  bytes: Buffer;
  ood: boolean;
}

/**
 * Demo-world images rendered by the kernel's own generator under `dir`: the ID classes (split id)
 * or, for split ood, only those of `concept` (an unseen shape).
 */
export function renderDemo(dir: string, split: 'id' | 'ood', n: number, seed: number, tag: string, concept?: string): DemoImage[] {
  const out = join(dir, `${tag}-${split}`);
  execFileSync(PYTHON, ['-m', 'clipn_kernel', 'demo', 'images', '--split', split, '--out', out, '--n', String(n), '--seed', String(seed)], { cwd: ROOT, stdio: 'pipe' });
  const images: DemoImage[] = [];
  for (const shape of readdirSync(out).sort()) {
    if (split === 'ood' && shape !== concept) continue;
    for (const f of readdirSync(join(out, shape)).sort()) images.push({ id: `${tag}-${shape}-${f}`, shape, bytes: readFileSync(join(out, shape, f)), ood: split === 'ood' });
  }
  return images;
}

/** Input records of images, ids prefixed with `prefix`; with captions, each names its shape through a template. */
export function demoInputs(images: DemoImage[], prefix: string, withCaptions: boolean) {
  return images.map((img, i) => ({
    key: `${prefix}${img.id}`,
    value: img.bytes,
    headers: { 'clipn-id': `${prefix}${img.id}`, 'content-type': 'image/png', ...(withCaptions ? { 'clipn-caption': TEMPLATES[i % TEMPLATES.length]!.replace('{}', img.shape) } : {}) },
  }));
}

/** The true decision record for an item (an outlier is a new concept named after its shape), or (invert) its opposite. */
export async function reviewDecision(itemId: string, img: DemoImage, invert = false): Promise<{ key: string; value: Buffer }> {
  const ood = invert ? !img.ood : img.ood;
  const value = await codec.encode('ReviewDecision', {
    itemId,
    decision: ood ? (invert ? 'none_of_labels' : 'new_concept') : 'is_class',
    label: ood ? null : invert ? DEMO.labels[0]! : img.shape,
    concept: ood && !invert ? img.shape : null,
    // An inverted class verdict also names that class in its caption, so the pair is wrong too.
    caption: invert && !ood ? `a ${DEMO.labels[0]!}` : null,
    reviewer: 'test',
    decidedAt: Date.now(),
  });
  return { key: itemId, value };
}
