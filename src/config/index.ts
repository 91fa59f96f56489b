/**
 * Configuration: one schema with a default for every setting, loaded once from a JSON file,
 * CLIPN_* environment variables and overrides into a deeply frozen {@link Config}.
 */
import { configSchema } from './schema.js';
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
  return reference(writtenDefaults());
}

/** The Markdown of docs/config.md. */
export function renderConfigReference(): string {
  return render(writtenDefaults());
}

// The defaults as the schema writes them: paths before they are made absolute for this machine.
const writtenDefaults = (): unknown => configSchema.parse({});
