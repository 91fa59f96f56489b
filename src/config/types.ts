/** Public types of the configuration. */
import type { z } from 'zod';
import type { configSchema } from './schema.js';

/** `T` with every property and array read-only, all the way down. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The validated, deeply frozen configuration. */
export type Config = DeepReadonly<z.output<typeof configSchema>>;

/** A partial configuration tree as written in a file or given as overrides (values unchecked). */
export type ConfigTree = Record<string, unknown>;

/** One setting in the reference: its path, environment variable, default and meaning. */
export interface ConfigKey {
  /** Dotted path, e.g. `processing.maxBatch`. */
  path: string;
  /** Environment variable, e.g. `CLIPN_PROCESSING__MAX_BATCH`. */
  env: string;
  /** The default value (undefined for parts of an optional group such as kafka.sasl). */
  default: unknown;
  /** What it does. */
  meaning: string;
}
