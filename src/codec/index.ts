/**
 * Records on the wire: Avro single-object encoding by default, the Confluent Schema Registry
 * wire format when a registry URL is configured, behind one {@link RecordCodec} interface.
 * src/codec is the only place avsc is used. Every body is pre-scanned within the
 * {@link DecodeLimits} (bounded-scan.ts) before avsc decodes it: avsc trusts block counts.
 */
import { ConfluentCodec, isConfluentFramed } from './confluent.js';
import { resolveCodecOptions, type CodecOptions } from './options.js';
import { SchemaRegistryClient } from './registry-client.js';
import { SchemaCatalog } from './schema-catalog.js';
import { decodeSingleObject, encodeSingleObject, isSingleObject } from './single-object.js';
import type { DecodedRecord, RecordCodec, RecordName } from './types.js';

export * from './types.js';
export {
  defaultSchemasDir,
  DEFAULT_DECODE_LIMITS,
  DEFAULT_MAX_NESTING_DEPTH,
  DEFAULT_MAX_ZERO_BYTE_ITEMS,
  DEFAULT_MAX_ZERO_BYTE_ITEMS_PER_RECORD,
  DEFAULT_REGISTRY_TIMEOUT_MS,
  resolveCodecOptions,
  type CodecOptions,
  type DecodeLimits,
  type ResolvedCodecOptions,
} from './options.js';
export { rabinFingerprint } from './fingerprint.js';
export { SchemaCatalog, type PreviousSchema, type SchemaEntry } from './schema-catalog.js';
export { SchemaRegistryClient, type RegistryClientOptions } from './registry-client.js';
export { isSingleObject, SINGLE_OBJECT_HEADER_BYTES, SINGLE_OBJECT_MAGIC } from './single-object.js';
export { isConfluentFramed, CONFLUENT_HEADER_BYTES } from './confluent.js';

/**
 * The codec for the configured format. Loads every schema of the schemas folder once; with a
 * registry URL, records are framed with registry ids (registered on first use) instead.
 */
export function createCodec(options: CodecOptions): RecordCodec {
  const resolved = resolveCodecOptions(options);
  const catalog = new SchemaCatalog(resolved.schemasDir);
  if (resolved.registryUrl !== null) {
    const confluent = new ConfluentCodec(catalog, new SchemaRegistryClient({ url: resolved.registryUrl, timeoutMs: resolved.registryTimeoutMs }), resolved);
    return {
      format: 'confluent',
      encode: (name, value) => confluent.encode(name, value),
      decode: ((bytes: Uint8Array, expected?: RecordName) => confluent.decode(bytes, expected)) as RecordCodec['decode'],
      looksLikeRecord: isConfluentFramed,
      canonicalBody: (name, value) => catalog.canonicalBody(name, value),
    };
  }
  return {
    format: 'single-object',
    encode: async (name, value) => encodeSingleObject(catalog, name, value),
    decode: (async (bytes: Uint8Array, expected?: RecordName): Promise<DecodedRecord> => decodeSingleObject(catalog, bytes, expected, resolved)) as RecordCodec['decode'],
    looksLikeRecord: isSingleObject,
    canonicalBody: (name, value) => catalog.canonicalBody(name, value),
  };
}
