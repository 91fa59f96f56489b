/**
 * Avro single-object encoding (the Avro specification): 0xC3 0x01, the schema's 8-byte
 * CRC-64-AVRO fingerprint (little-endian), then the binary body. Every record carries its
 * schema; an unknown fingerprint is an error, never a guess.
 */
import { ClipnError } from '../errors.js';
import { scanAvroBody } from './bounded-scan.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './options.js';
import type { SchemaCatalog } from './schema-catalog.js';
import type { DecodedRecord, RecordName } from './types.js';

/** The two marker bytes of the single-object header. */
export const SINGLE_OBJECT_MAGIC: Readonly<[number, number]> = [0xc3, 0x01];
/** Header length: 2 marker bytes and the 8-byte fingerprint. */
export const SINGLE_OBJECT_HEADER_BYTES = 10;

/** True when the bytes start like a single-object record (cheap: the marker and header length). */
export function isSingleObject(bytes: Uint8Array): boolean {
  return bytes.length >= SINGLE_OBJECT_HEADER_BYTES && bytes[0] === SINGLE_OBJECT_MAGIC[0] && bytes[1] === SINGLE_OBJECT_MAGIC[1];
}

/** Encodes `value` as a single-object record of `name`. */
export function encodeSingleObject(catalog: SchemaCatalog, name: RecordName, value: unknown): Buffer {
  const body = catalog.encodeBody(name, value);
  return Buffer.concat([Buffer.from(SINGLE_OBJECT_MAGIC), catalog.get(name).fingerprint, body]);
}

/**
 * Decodes a single-object record, optionally insisting on its type. The body is pre-scanned
 * within `limits` before avsc reads it (see bounded-scan.ts).
 */
export function decodeSingleObject(catalog: SchemaCatalog, bytes: Uint8Array, expected?: RecordName, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): DecodedRecord {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isSingleObject(buf)) {
    const head = buf.subarray(0, 2).toString('hex') || 'nothing';
    throw new ClipnError(
      'CODEC_DECODE_FAILED',
      `not an Avro single-object record: expected header c301 and ${SINGLE_OBJECT_HEADER_BYTES} bytes at least, got ${head} in ${buf.length} bytes`,
      { details: { bytes: buf.length } },
    );
  }
  const hex = buf.subarray(2, SINGLE_OBJECT_HEADER_BYTES).toString('hex');
  const previous = catalog.previousByFingerprintHex(hex);
  const entry = catalog.byFingerprintHex(hex) ?? previous?.entry;
  if (entry === undefined) {
    const known = catalog.entries().map((e) => `${e.name}=${e.fingerprintHex}`).join(', ');
    throw new ClipnError('CODEC_UNKNOWN_FINGERPRINT', `unknown schema fingerprint ${hex}: expected one of ${known}`, { details: { fingerprint: hex } });
  }
  if (expected !== undefined && entry.name !== expected) {
    throw new ClipnError('CODEC_DECODE_FAILED', `expected a ${expected} record, got a ${entry.name} (fingerprint ${hex})`, { details: { expected, got: entry.name } });
  }
  // A record written with an earlier version of the schema is scanned as written and resolved into the current shape.
  scanAvroBody(previous?.scanPlan ?? entry.scanPlan, buf, SINGLE_OBJECT_HEADER_BYTES, limits);
  try {
    return { name: entry.name, value: entry.type.fromBuffer(buf.subarray(SINGLE_OBJECT_HEADER_BYTES), previous?.resolver) } as DecodedRecord;
  } catch (error) {
    throw new ClipnError('CODEC_DECODE_FAILED', `${entry.name}: body of ${buf.length - SINGLE_OBJECT_HEADER_BYTES} bytes does not decode: ${(error as Error).message}`, { cause: error });
  }
}
