/** Options of the record codec, their defaults, and their one validation. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipnError } from '../errors.js';

/** What {@link createCodec} accepts. */
export interface CodecOptions {
  /**
   * Confluent Schema Registry base URL (credentials in the URL become HTTP basic auth); null
   * selects Avro single-object encoding.
   */
  registryUrl: string | null;
  /** The folder of the .avsc files (default: the package's schemas/). */
  schemasDir?: string;
  /** Limit on each schema-registry request, in milliseconds. */
  registryTimeoutMs?: number;
}

/** {@link CodecOptions} with every default applied. */
export interface ResolvedCodecOptions {
  registryUrl: URL | null;
  schemasDir: string;
  registryTimeoutMs: number;
}

/** Default limit on one schema-registry request. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 5000;

/** The package's schemas/ folder, found upwards from this file (works from src/ and dist/src/). */
export function defaultSchemasDir(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'schemas', 'ImageRequest.avsc'))) return join(dir, 'schemas');
    if (dirname(dir) === dir) {
      throw new ClipnError('INTERNAL', `schemas folder not found: expected schemas/ImageRequest.avsc in ${start} or a folder above it, got none`);
    }
  }
}

/** Applies defaults and checks the options once. */
export function resolveCodecOptions(options: CodecOptions): ResolvedCodecOptions {
  const timeout = options.registryTimeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS;
  if (!Number.isInteger(timeout) || timeout < 1) {
    throw new ClipnError('CONFIG_INVALID', `codec registryTimeoutMs: expected an integer >= 1, got ${String(timeout)}`);
  }
  let registryUrl: URL | null = null;
  if (options.registryUrl) {
    try {
      registryUrl = new URL(options.registryUrl);
    } catch (error) {
      throw new ClipnError('CONFIG_INVALID', `codec registryUrl: expected an http(s) URL, got ${JSON.stringify(options.registryUrl.replace(/\/\/[^/@]*@/, '//[redacted]@'))}`, { cause: error });
    }
    if (registryUrl.protocol !== 'http:' && registryUrl.protocol !== 'https:') {
      throw new ClipnError('CONFIG_INVALID', `codec registryUrl: expected an http(s) URL, got scheme ${registryUrl.protocol}`);
    }
  }
  return { registryUrl, schemasDir: options.schemasDir ?? defaultSchemasDir(), registryTimeoutMs: timeout };
}
