/** Loads the classifier and the label set for the one-shot commands (classify, eval, calibrate). */
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ClipnClassifier, parseLabelSet, type LabelSet } from '../../clipn/index.js';
import { DEFAULT_IMAGE_OPTIONS } from '../../images/index.js';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from '../../model/index.js';
import { ClipnError } from '../../errors.js';
import { packageRoot } from '../../package-root.js';


export const DEFAULT_MODEL_DIR = (): string => join(packageRoot(), 'models', 'demo');

/** Flags shared by the model commands. */
export interface ModelFlags {
  model?: string;
  providers?: string;
  threads?: string;
  batch?: string;
}

export function parseProviders(value: string | undefined): ExecutionProvider[] {
  const list = (value ?? 'cpu').split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of list) {
    if (!(EXECUTION_PROVIDERS as readonly string[]).includes(p)) {
      throw new ClipnError('CONFIG_INVALID', `--providers: expected a comma list of ${EXECUTION_PROVIDERS.join(', ')}, got ${p}`);
    }
  }
  return list as ExecutionProvider[];
}

export function parsePositiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new ClipnError('CONFIG_INVALID', `${name}: expected an integer >= 1, got ${value}`);
  return n;
}

export async function loadClassifier(flags: ModelFlags): Promise<ClipnClassifier> {
  return ClipnClassifier.load(resolve(flags.model ?? DEFAULT_MODEL_DIR()), {
    encoders: {
      executionProviders: parseProviders(flags.providers),
      intraOpThreads: flags.threads ? parsePositiveInt('--threads', flags.threads, 1) : 0,
      interOpThreads: 0,
      graphOptimization: 'all',
      maxBatch: parsePositiveInt('--batch', flags.batch, 16),
    },
    images: DEFAULT_IMAGE_OPTIONS,
    cache: { dir: null, maxEntries: 100_000 },
    topK: 5,
  });
}

/** `--labels a,b,c` or `--labels FILE.json` (a label-set file), with optional `--templates FILE`. */
export async function loadLabelSet(labels: string, templatesFile?: string): Promise<LabelSet> {
  let raw: Record<string, unknown>;
  if (labels.endsWith('.json') || existsSync(labels)) {
    try {
      raw = JSON.parse(await readFile(labels, 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new ClipnError('LABEL_SET_INVALID', `${labels}: cannot read a label-set JSON file: ${(error as Error).message}`, { cause: error });
    }
  } else {
    raw = { id: 'cli', version: 1, labels: labels.split(',').map((s) => s.trim()).filter(Boolean) };
  }
  if (templatesFile) {
    const lines = (await readFile(templatesFile, 'utf8')).split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim());
    raw = { ...raw, templates: lines };
  }
  return parseLabelSet(raw, labels);
}

/** The options every model command shares: labels, model folder, templates, batch, providers, threads. */
export function withModelOptions(command: Command, defaultBatch: number): Command {
  return command
    .requiredOption('--labels <labels>', 'comma-separated labels, or a label-set JSON file')
    .option('--model <dir>', 'model bundle folder (default: models/demo)')
    .option('--templates <file>', 'prompt templates, one "{}" format string a line')
    .option('--batch <n>', 'images per inference batch', String(defaultBatch))
    .option('--providers <list>', 'execution providers in order of preference (cpu, cuda, tensorrt, webgpu)', 'cpu')
    .option('--threads <n>', 'intra-op threads (default: ONNX Runtime chooses)');
}
