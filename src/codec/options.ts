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
  /**
   * Deepest nesting of records, arrays and maps a decoded record may have (the record itself is
   * level 1); deeper input is refused before decoding. Default {@link DEFAULT_MAX_NESTING_DEPTH}
   * (64), at most 1000.
   */
  maxNestingDepth?: number;
  /**
   * Most items one array may hold when its items encode in zero bytes (null, fixed of size 0,
   * records of only those), whose count the record's size does not bound. Default
   * {@link DEFAULT_MAX_ZERO_BYTE_ITEMS} (1,000,000).
   */
  maxZeroByteItems?: number;
  /** Most such zero-byte items in one record, all arrays together. Default {@link DEFAULT_MAX_ZERO_BYTE_ITEMS_PER_RECORD} (1,000,000). */
  maxZeroByteItemsPerRecord?: number;
}

/** The limits of the bounded pre-scan every decoded body goes through (see src/codec/bounded-scan.ts). */
export interface DecodeLimits {
  /** Deepest nesting of records, arrays and maps (the record itself is level 1). */
  maxNestingDepth: number;
  /** Most zero-byte items in one array. */
  maxZeroByteItems: number;
  /** Most zero-byte items in one record, all arrays together. */
  maxZeroByteItemsPerRecord: number;
}

/** {@link CodecOptions} with every default applied. */
export interface ResolvedCodecOptions extends DecodeLimits {
  registryUrl: URL | null;
  schemasDir: string;
  registryTimeoutMs: number;
}

/** Default limit on one schema-registry request. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 5000;
/** Default deepest nesting of a decoded record: far deeper than any schema of schemas/. */
export const DEFAULT_MAX_NESTING_DEPTH = 64;
/** Default most zero-byte items in one array. */
export const DEFAULT_MAX_ZERO_BYTE_ITEMS = 1_000_000;
/** Default most zero-byte items in one record. */
export const DEFAULT_MAX_ZERO_BYTE_ITEMS_PER_RECORD = 1_000_000;
/** Upper bound of maxNestingDepth: the pre-scan and avsc recurse once per level. */
const MAX_NESTING_DEPTH_BOUND = 1000;

/** The default {@link DecodeLimits}. */
export const DEFAULT_DECODE_LIMITS: Readonly<DecodeLimits> = Object.freeze({
  maxNestingDepth: DEFAULT_MAX_NESTING_DEPTH,
  maxZeroByteItems: DEFAULT_MAX_ZERO_BYTE_ITEMS,
  maxZeroByteItemsPerRecord: DEFAULT_MAX_ZERO_BYTE_ITEMS_PER_RECORD,
});

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

function integerOption(name: keyof CodecOptions, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
    throw new ClipnError('CONFIG_INVALID', `codec ${name}: expected an integer ${range}, got ${String(value)}`);
  }
  return value;
}

/** Applies defaults and checks the options once. */
export function resolveCodecOptions(options: CodecOptions): ResolvedCodecOptions {
  const timeout = integerOption('registryTimeoutMs', options.registryTimeoutMs ?? DEFAULT_REGISTRY_TIMEOUT_MS, 1, Number.MAX_SAFE_INTEGER);
  const maxNestingDepth = integerOption('maxNestingDepth', options.maxNestingDepth ?? DEFAULT_MAX_NESTING_DEPTH, 1, MAX_NESTING_DEPTH_BOUND);
  const maxZeroByteItems = integerOption('maxZeroByteItems', options.maxZeroByteItems ?? DEFAULT_MAX_ZERO_BYTE_ITEMS, 1, Number.MAX_SAFE_INTEGER);
  const maxZeroByteItemsPerRecord = integerOption(
    'maxZeroByteItemsPerRecord',
    options.maxZeroByteItemsPerRecord ?? DEFAULT_MAX_ZERO_BYTE_ITEMS_PER_RECORD,
    1,
    Number.MAX_SAFE_INTEGER,
  );
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
  return { registryUrl, schemasDir: options.schemasDir ?? defaultSchemasDir(), registryTimeoutMs: timeout, maxNestingDepth, maxZeroByteItems, maxZeroByteItemsPerRecord };
}
