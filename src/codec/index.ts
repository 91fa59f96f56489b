/**
 * Records on the wire: Avro single-object encoding by default, the Confluent Schema Registry
 * wire format when a registry URL is configured. The only place avsc is used.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { ConfluentCodec, isConfluentFramed } from './confluent.js';
import { SchemaRegistry, RECORD_NAMES, type RecordName } from './registry.js';
import { decodeSingleObject, encodeSingleObject, isSingleObject } from './single-object.js';

export { RECORD_NAMES, SchemaRegistry, type RecordName } from './registry.js';
export { rabinFingerprint } from './fingerprint.js';
export { isSingleObject } from './single-object.js';

/** Encodes and decodes the product's records. */
export interface RecordCodec {
  readonly format: 'single-object' | 'confluent';
  encode(name: RecordName, value: unknown): Promise<Buffer>;
  decode(bytes: Uint8Array, expected?: RecordName): Promise<{ name: RecordName; value: unknown }>;
  /** True when the bytes look like a record of this codec (raw image bytes do not). */
  looksLikeRecord(bytes: Uint8Array): boolean;
}

export interface CodecOptions {
  /** Confluent Schema Registry base URL; null uses single-object encoding. */
  registryUrl: string | null;
  /** The schemas folder (default: the package's schemas/). */
  schemasDir?: string;
}

/** The package's schemas/ folder, found from this file (works from src/ and dist/src/). */
export function defaultSchemasDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'schemas', 'ImageRequest.avsc'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('schemas/ folder not found');
    dir = up;
  }
  return join(dir, 'schemas');
}

export function createCodec(options: CodecOptions): RecordCodec {
  const registry = new SchemaRegistry(options.schemasDir ?? defaultSchemasDir());
  if (options.registryUrl) {
    const confluent = new ConfluentCodec(registry, options.registryUrl);
    return {
      format: 'confluent',
      encode: (name, value) => confluent.encode(name, value),
      decode: (bytes, expected) => confluent.decode(bytes, expected),
      looksLikeRecord: isConfluentFramed,
    };
  }
  return {
    format: 'single-object',
    encode: async (name, value) => encodeSingleObject(registry, name, value),
    decode: async (bytes, expected) => decodeSingleObject(registry, bytes, expected),
    looksLikeRecord: isSingleObject,
  };
}

export const ALL_RECORDS: readonly RecordName[] = RECORD_NAMES;
