/**
 * Loads the configuration once at start-up: defaults, then a JSON file, then CLIPN_* environment
 * variables, then explicit overrides; validated by the one schema, path settings made absolute
 * (src/config/paths.ts), and deeply frozen. Every
 * problem is reported at once, each naming its path.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ClipnError } from '../errors.js';
import { envToTree } from './env.js';
import { formatIssues } from './issues.js';
import { packageRoot } from '../package-root.js';
import { resolvePaths } from './paths.js';
import { CONFIG_FILE_VARIABLE, type LoadConfigOptions } from './options.js';
import { configSchema } from './schema.js';
import type { Config, ConfigTree } from './types.js';

const isTree = (v: unknown): v is ConfigTree => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `over` on top of `base`: objects merge key by key, anything else replaces. */
function merge(base: ConfigTree, over: ConfigTree): ConfigTree {
  const out: ConfigTree = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const below = out[key];
    out[key] = isTree(value) && isTree(below) ? merge(below, value) : value;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function readFile(file: string): ConfigTree {
  const ext = extname(file).toLowerCase();
  if (ext === '.yaml' || ext === '.yml') {
    throw new ClipnError('CONFIG_INVALID', `config file ${file}: expected a JSON file, got ${ext} (YAML is not supported: write the same keys as JSON)`, { details: { file } });
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ClipnError('CONFIG_INVALID', `config file ${file}: expected a readable JSON file, got ${reason}`, { cause: error, details: { file } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ClipnError('CONFIG_INVALID', `config file ${file}: expected JSON, got a syntax error: ${(error as Error).message}`, { cause: error, details: { file } });
  }
  if (!isTree(parsed)) {
    throw new ClipnError('CONFIG_INVALID', `config file ${file}: expected a JSON object at the top, got ${Array.isArray(parsed) ? 'an array' : JSON.stringify(parsed)}`, { details: { file } });
  }
  return parsed;
}

/**
 * The validated, deeply frozen configuration. Throws CONFIG_INVALID listing every bad value as
 * `path (VARIABLE): expected ..., got ...`.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file === undefined ? (env[CONFIG_FILE_VARIABLE] || null) : options.file;
  const fromFile = file ? readFile(file) : {};
  const { tree: fromEnv, sources } = envToTree(env);
  const raw = merge(merge(fromFile, fromEnv), options.overrides ?? {});
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues, sources);
    const where = file ? ` (file ${file} and the environment)` : '';
    throw new ClipnError('CONFIG_INVALID', `invalid configuration${where}: ${problems.join('; ')}`, { details: { problems, ...(file ? { file } : {}) } });
  }
  resolvePaths(parsed.data as never, raw as never, { cwd: options.cwd ?? process.cwd(), packageRoot: packageRoot() });
  return deepFreeze(parsed.data) as Config;
}
