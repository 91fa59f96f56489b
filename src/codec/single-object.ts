/**
 * Avro single-object encoding (the Avro specification): 0xC3 0x01, the schema's 8-byte
 * CRC-64-AVRO fingerprint (little-endian), then the binary body. Every record carries its
 * schema; an unknown fingerprint is an error, never a guess.
 */
import { ClipnError } from '../errors.js';
import { invalidPaths, type RecordName, type SchemaRegistry } from './registry.js';

const MAGIC = Buffer.from([0xc3, 0x01]);
export const HEADER_BYTES = 10;

/** True when the bytes start like a single-object encoded record (cheap: the 2 magic bytes). */
export function isSingleObject(bytes: Uint8Array): boolean {
  return bytes.length >= HEADER_BYTES && bytes[0] === 0xc3 && bytes[1] === 0x01;
}

export function encodeSingleObject(registry: SchemaRegistry, name: RecordName, value: unknown): Buffer {
  const entry = registry.get(name);
  const problems = invalidPaths(entry.type, value);
  if (problems.length > 0) throw new ClipnError('CODEC_ENCODE_FAILED', `${name}: ${problems.join('; ')}`, { details: { record: name, problems } });
  return Buffer.concat([MAGIC, entry.fingerprint, entry.type.toBuffer(value)]);
}

export function decodeSingleObject(registry: SchemaRegistry, bytes: Uint8Array, expected?: RecordName): { name: RecordName; value: unknown } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isSingleObject(buf)) {
    throw new ClipnError('CODEC_DECODE_FAILED', `not an Avro single-object record: expected header c3 01 and ${HEADER_BYTES} bytes at least, got ${buf.subarray(0, 2).toString('hex') || 'nothing'} (${buf.length} bytes)`);
  }
  const hex = buf.subarray(2, HEADER_BYTES).toString('hex');
  const entry = registry.byFingerprintHex(hex);
  if (entry === undefined) {
    throw new ClipnError('CODEC_UNKNOWN_FINGERPRINT', `unknown schema fingerprint ${hex}: not one of ${registry.entries().map((e) => `${e.name}=${e.fingerprintHex}`).join(', ')}`, { details: { fingerprint: hex } });
  }
  if (expected !== undefined && entry.name !== expected) {
    throw new ClipnError('CODEC_DECODE_FAILED', `expected a ${expected} record, got a ${entry.name}`, { details: { expected, got: entry.name } });
  }
  try {
    return { name: entry.name, value: entry.type.fromBuffer(buf.subarray(HEADER_BYTES)) };
  } catch (error) {
    throw new ClipnError('CODEC_DECODE_FAILED', `${entry.name}: body does not decode: ${(error as Error).message}`, { cause: error });
  }
}
