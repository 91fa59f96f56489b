/**
 * CLIPN_* environment variables to a configuration tree: levels are joined by "__" and each
 * level is SNAKE_CASE for a camelCase key (CLIPN_PROCESSING__MAX_BATCH -> processing.maxBatch).
 * Values stay strings; the schema coerces them.
 */
import { CONFIG_FILE_VARIABLE, ENV_LEVEL_SEPARATOR, ENV_PREFIX } from './options.js';
import type { ConfigTree } from './types.js';

const camel = (snake: string): string => snake.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const snake = (camelCase: string): string => camelCase.replace(/([A-Z])/g, '_$1').toUpperCase();

/** The environment variable of a dotted setting path. */
export function envNameOf(path: string): string {
  return ENV_PREFIX + path.split('.').map(snake).join(ENV_LEVEL_SEPARATOR);
}

/** The tree of settings in `env`, and the variable each dotted path came from. */
export function envToTree(env: Readonly<Record<string, string | undefined>>): { tree: ConfigTree; sources: Map<string, string> } {
  const tree: ConfigTree = {};
  const sources = new Map<string, string>();
  // Shallow names first, so that a member (CLIPN_KAFKA__SASL__USERNAME) wins over its group
  // (CLIPN_KAFKA__SASL) whatever the order of the environment.
  const entries = Object.entries(env).sort(([a], [b]) => a.split(ENV_LEVEL_SEPARATOR).length - b.split(ENV_LEVEL_SEPARATOR).length);
  for (const [name, value] of entries) {
    // Every setting is at least two levels deep: CLIPN_X without "__" (CLIPN_CONFIG, or variables
    // of the scripts such as CLIPN_KAFKA_PORT) is not a setting.
    if (!name.startsWith(ENV_PREFIX) || !name.includes(ENV_LEVEL_SEPARATOR) || name === CONFIG_FILE_VARIABLE || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split(ENV_LEVEL_SEPARATOR).map(camel);
    let node = tree;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      node = (next !== null && typeof next === 'object' ? next : (node[key] = {})) as ConfigTree;
    }
    node[path[path.length - 1]!] = value;
    sources.set(path.join('.'), name);
  }
  return { tree, sources };
}
