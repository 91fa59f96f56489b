/** Options of {@link loadConfig}: where the configuration comes from. */
import type { ConfigTree } from './types.js';

/** Prefix of every configuration environment variable. */
export const ENV_PREFIX = 'CLIPN_';
/** Separator of levels in an environment variable name (CLIPN_KAFKA__TOPICS__INPUT). */
export const ENV_LEVEL_SEPARATOR = '__';
/** The environment variable that names the config file (not a setting itself). */
export const CONFIG_FILE_VARIABLE = 'CLIPN_CONFIG';

/** Sources of the configuration; later ones win: defaults, file, environment, overrides. */
export interface LoadConfigOptions {
  /** A JSON config file; undefined reads CLIPN_CONFIG from `env`; null means none. */
  file?: string | null;
  /** Environment variables (default: process.env). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values that win over everything (command-line flags). */
  overrides?: ConfigTree;
  /** Base of relative paths given in the file, the environment or overrides (default: process.cwd()). */
  cwd?: string;
}
