/**
 * Configuration: one schema with a default for every setting, loaded once from a JSON file,
 * CLIPN_* environment variables and overrides into a deeply frozen {@link Config}.
 */
import { loadConfig } from './loader.js';
import { renderConfigReference as render, configReference as reference } from './reference.js';
import type { ConfigKey } from './types.js';

export type { Config, ConfigKey, ConfigTree, DeepReadonly } from './types.js';
export { CONFIG_FILE_VARIABLE, ENV_LEVEL_SEPARATOR, ENV_PREFIX, type LoadConfigOptions } from './options.js';
export { configSchema } from './schema.js';
export { envNameOf, envToTree } from './env.js';
export { loadConfig } from './loader.js';
export { redactConfig, secretsOf, REDACTED } from './redact.js';

/** Every setting with its environment variable, default and meaning, in schema order. */
export function configReference(): ConfigKey[] {
  return reference(loadConfig({ file: null, env: {} }));
}

/** The Markdown of docs/config.md. */
export function renderConfigReference(): string {
  return render(loadConfig({ file: null, env: {} }));
}
