/**
 * Loads the configuration once at start-up: defaults, then a JSON file, then CLIPN_* environment
 * variables (CLIPN_KAFKA__BROKERS -> kafka.brokers, CLIPN_PROCESSING__MAX_BATCH ->
 * processing.maxBatch), then explicit overrides. The result is validated and deeply frozen;
 * errors name the path of every bad value.
 */
import { readFileSync } from 'node:fs';
import { ClipnError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

type Tree = Record<string, unknown>;

export interface LoadOptions {
  /** A JSON config file. */
  file?: string | null;
  /** Environment (default: process.env). */
  env?: Record<string, string | undefined>;
  /** Values that win over everything (CLI flags). */
  overrides?: Tree;
}

const camel = (snake: string): string => snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** CLIPN_A__B_C=v -> { a: { bC: 'v' } }. */
export function envToTree(env: Record<string, string | undefined>): Tree {
  const tree: Tree = {};
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('CLIPN_') || value === undefined) continue;
    const path = key.slice('CLIPN_'.length).split('__').map(camel);
    let node = tree;
    path.slice(0, -1).forEach((p) => (node = (node[p] ??= {}) as Tree));
    node[path[path.length - 1]!] = value;
  }
  return tree;
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b) ? merge(b as Tree, v as Tree) : v;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value)?.slice(0, 60) ?? String(value);
}

function at(tree: Tree, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Tree)[String(key)] : undefined), tree);
}

/** Validates and freezes the configuration. */
export function loadConfig(options: LoadOptions = {}): Config {
  let fromFile: Tree = {};
  if (options.file) {
    try {
      fromFile = JSON.parse(readFileSync(options.file, 'utf8')) as Tree;
    } catch (error) {
      throw new ClipnError('CONFIG_INVALID', `config file ${options.file}: ${(error as Error).message}`, { cause: error });
    }
  }
  const raw = merge(merge(fromFile, envToTree(options.env ?? process.env)), options.overrides ?? {});
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}, got ${describe(at(raw, i.path))}`);
    throw new ClipnError('CONFIG_INVALID', `invalid configuration: ${issues.join('; ')}`, { details: { issues } });
  }
  return deepFreeze(parsed.data);
}

/** A copy safe to log: the SASL password and credentials in URLs replaced. */
export function redactConfig(config: Config): unknown {
  const scrub = (v: unknown): unknown => {
    if (typeof v === 'string') return v.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1[redacted]@');
    if (Array.isArray(v)) return v.map(scrub);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, /password|secret|token/i.test(k) ? '[redacted]' : scrub(x)]));
    return v;
  };
  return scrub(config);
}

/** Strings that must never appear in logs (the logger scrubs them). */
export function secretsOf(config: Config): string[] {
  return config.kafka.sasl ? [config.kafka.sasl.password] : [];
}
