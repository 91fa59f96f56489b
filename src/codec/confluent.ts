/**
 * Confluent Schema Registry wire format: magic byte 0, the 4-byte big-endian schema id, the
 * Avro body. Schemas are registered under the record-name subject (`io.clipn.v1.<Record>`).
 * A record written with another registered version of one of our schemas is decoded with Avro
 * schema resolution into the current shape.
 */
import type avro from 'avsc';
import { ClipnError } from '../errors.js';
import { compileScanPlan, scanAvroBody, type ScanPlan } from './bounded-scan.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './options.js';
import type { SchemaRegistryClient } from './registry-client.js';
import { parseSchema, type SchemaCatalog, type SchemaEntry } from './schema-catalog.js';
import type { DecodedRecord, RecordName } from './types.js';

/** Header length: the magic byte and the 4-byte schema id. */
export const CONFLUENT_HEADER_BYTES = 5;

/** ISO-BMFF (AVIF, HEIF) and JPEG 2000 files also start with a 0 byte: their box type tells them apart. */
const BOX_TYPES = new Set(['ftyp', 'jP  ']);

/** True when the bytes are framed like a registry record (and are not an image file starting with 0). */
export function isConfluentFramed(bytes: Uint8Array): boolean {
  if (bytes.length < CONFLUENT_HEADER_BYTES || bytes[0] !== 0) return false;
  return bytes.length < 8 || !BOX_TYPES.has(Buffer.from(bytes.buffer, bytes.byteOffset + 4, 4).toString('latin1'));
}

interface Reader {
  entry: SchemaEntry;
  /** Set when the writer's schema differs from ours. */
  resolver: avro.Resolver | undefined;
  /** The writer's schema compiled for the pre-scan: the body is laid out as the writer wrote it. */
  plan: ScanPlan;
  /** Appended to pre-scan messages. */
  where: string;
}

/** Encodes and decodes records in the registry wire format. */
export class ConfluentCodec {
  private readonly readers = new Map<number, Reader>();

  constructor(
    private readonly catalog: SchemaCatalog,
    private readonly client: Pick<SchemaRegistryClient, 'register' | 'schemaById'>,
    private readonly limits: DecodeLimits = DEFAULT_DECODE_LIMITS,
  ) {}

  /** Validates, registers the schema once, and frames the body with its id. */
  async encode(name: RecordName, value: unknown): Promise<Buffer> {
    const body = this.catalog.encodeBody(name, value);
    const entry = this.catalog.get(name);
    const id = await this.client.register(entry.fullName, entry.schemaText);
    const header = Buffer.alloc(CONFLUENT_HEADER_BYTES);
    header.writeUInt32BE(id, 1);
    return Buffer.concat([header, body]);
  }

  /**
   * Decodes a framed record by its schema id, optionally insisting on its type. The body is
   * pre-scanned with the writer's schema within the limits before avsc reads it.
   */
  async decode(bytes: Uint8Array, expected?: RecordName): Promise<DecodedRecord> {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!isConfluentFramed(buf)) {
      const head = buf.subarray(0, 1).toString('hex') || 'nothing';
      throw new ClipnError('CODEC_DECODE_FAILED', `not a schema-registry record: expected magic byte 00 and ${CONFLUENT_HEADER_BYTES} bytes at least, got ${head} in ${buf.length} bytes`, {
        details: { bytes: buf.length },
      });
    }
    const id = buf.readUInt32BE(1);
    const reader = await this.readerFor(id);
    if (expected !== undefined && reader.entry.name !== expected) {
      throw new ClipnError('CODEC_DECODE_FAILED', `expected a ${expected} record, got a ${reader.entry.name} (schema id ${id})`, { details: { expected, got: reader.entry.name } });
    }
    scanAvroBody(reader.plan, buf, CONFLUENT_HEADER_BYTES, this.limits, reader.where);
    try {
      return { name: reader.entry.name, value: reader.entry.type.fromBuffer(buf.subarray(CONFLUENT_HEADER_BYTES), reader.resolver) } as DecodedRecord;
    } catch (error) {
      throw new ClipnError('CODEC_DECODE_FAILED', `${reader.entry.name} (schema id ${id}): body of ${buf.length - CONFLUENT_HEADER_BYTES} bytes does not decode: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  private async readerFor(id: number): Promise<Reader> {
    const known = this.readers.get(id);
    if (known !== undefined) return known;
    const writerText = await this.client.schemaById(id);
    const writer = parseSchema(writerText, `schema id ${id}`);
    const entry = writer.name === undefined ? undefined : this.catalog.byFullName(writer.name);
    if (entry === undefined) {
      const names = this.catalog.entries().map((e) => e.fullName).join(', ');
      throw new ClipnError('CODEC_UNKNOWN_FINGERPRINT', `schema id ${id}: expected one of ${names}, got ${writer.name ?? writer.typeName}`, { details: { schemaId: id } });
    }
    let resolver: avro.Resolver | undefined;
    if (JSON.stringify(writer.schema()) !== entry.canonicalForm) {
      try {
        resolver = entry.type.createResolver(writer);
      } catch (error) {
        throw new ClipnError('CODEC_DECODE_FAILED', `schema id ${id}: ${entry.fullName} as written cannot be read as this version's schema: ${(error as Error).message}`, { cause: error });
      }
    }
    const reader = { entry, resolver, plan: compileScanPlan(writer), where: ` (schema id ${id})` };
    this.readers.set(id, reader);
    return reader;
  }
}
