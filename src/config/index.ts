/** Configuration: one schema, loaded once from defaults, a file and CLIPN_* variables. */
export { loadConfig, redactConfig, secretsOf, envToTree, type LoadOptions } from './loader.js';
export { configSchema, type Config } from './schema.js';
