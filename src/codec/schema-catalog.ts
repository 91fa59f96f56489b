/**
 * The record schemas of schemas/*.avsc, parsed once with avsc (the only importer of avsc), each
 * known by name and by its CRC-64-AVRO fingerprint.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { ClipnError } from '../errors.js';
import { compileScanPlan, type ScanPlan } from './bounded-scan.js';
import { rabinFingerprint } from './fingerprint.js';
import { RECORD_NAMES, RECORD_NAMESPACE, type RecordName } from './types.js';

/** One parsed schema. */
export interface SchemaEntry {
  name: RecordName;
  /** `io.clipn.v1.<name>`. */
  fullName: string;
  type: avro.Type;
  /** The schema JSON as written in the .avsc file (a registry stores it). */
  schemaText: string;
  /** The Parsing Canonical Form (Avro specification) the fingerprint is computed over. */
  canonicalForm: string;
  /** The 8 fingerprint bytes, little-endian, as in the single-object header. */
  fingerprint: Buffer;
  fingerprintHex: string;
  /** The schema compiled for the bounded pre-scan of every body decoded with it. */
  scanPlan: ScanPlan;
}

/**
 * An earlier version of one of our schemas (schemas/previous/<Name>-<fingerprint>.avsc): records
 * written with it are still read, resolved into the current shape (new fields take their defaults).
 */
export interface PreviousSchema {
  /** The current schema its records are read as. */
  entry: SchemaEntry;
  fingerprintHex: string;
  resolver: avro.Resolver;
  /** The earlier schema compiled for the pre-scan: the body is laid out as it was written. */
  scanPlan: ScanPlan;
}

/** Parses a schema's JSON text; a schema that avsc rejects is a CODEC_DECODE_FAILED naming `what`. */
export function parseSchema(schemaText: string, what: string): avro.Type {
  try {
    // Fresh options each time: avsc keeps its name registry in them. No logical types: timestamps stay numbers.
    return avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema, { logicalTypes: {} });
  } catch (error) {
    throw new ClipnError('CODEC_DECODE_FAILED', `${what}: expected a valid Avro schema, got: ${(error as Error).message}`, { cause: error });
  }
}

/** The schemas of every record, by name and by fingerprint. */
export class SchemaCatalog {
  private readonly byName = new Map<RecordName, SchemaEntry>();
  private readonly byFingerprint = new Map<string, SchemaEntry>();
  private readonly previous = new Map<string, PreviousSchema>();

  /** Loads every record schema from `dir` (the package's schemas/ folder). */
  constructor(readonly dir: string) {
    let files: Set<string>;
    try {
      files = new Set(readdirSync(dir));
    } catch (error) {
      throw new ClipnError('INTERNAL', `schemas folder ${dir}: expected a readable folder, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
    }
    for (const name of RECORD_NAMES) {
      const file = `${name}.avsc`;
      if (!files.has(file)) throw new ClipnError('INTERNAL', `schema ${file}: expected in ${dir}, got none`);
      const schemaText = readFileSync(join(dir, file), 'utf8');
      let type: avro.Type;
      try {
        type = parseSchema(schemaText, join(dir, file));
      } catch (error) {
        throw new ClipnError('INTERNAL', (error as Error).message, { cause: error });
      }
      const fullName = `${RECORD_NAMESPACE}.${name}`;
      if (type.name !== fullName) throw new ClipnError('INTERNAL', `schema ${join(dir, file)}: expected record ${fullName}, got ${type.name ?? type.typeName}`);
      // avsc's schema() without options is the Parsing Canonical Form (full names, no docs or defaults).
      const canonicalForm = JSON.stringify(type.schema());
      const fingerprint = rabinFingerprint(canonicalForm);
      const entry: SchemaEntry = { name, fullName, type, schemaText, canonicalForm, fingerprint, fingerprintHex: fingerprint.toString('hex'), scanPlan: compileScanPlan(type) };
      this.byName.set(name, entry);
      this.byFingerprint.set(entry.fingerprintHex, entry);
    }
    if (files.has('previous')) this.loadPrevious(join(dir, 'previous'));
  }

  /** Earlier versions of the schemas, each named `<Name>-<fingerprint>.avsc` (the name is checked). */
  private loadPrevious(dir: string): void {
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.avsc')).sort()) {
      const m = /^([A-Za-z]+)-([0-9a-f]{16})\.avsc$/.exec(file);
      const entry = m ? this.byName.get(m[1] as RecordName) : undefined;
      if (!m || entry === undefined) throw new ClipnError('INTERNAL', `schema ${join(dir, file)}: expected a name <Record>-<16 hex fingerprint>.avsc of one of ${RECORD_NAMES.join(', ')}`);
      let writer: avro.Type;
      try {
        writer = parseSchema(readFileSync(join(dir, file), 'utf8'), join(dir, file));
      } catch (error) {
        throw new ClipnError('INTERNAL', (error as Error).message, { cause: error });
      }
      const fingerprintHex = rabinFingerprint(JSON.stringify(writer.schema())).toString('hex');
      if (fingerprintHex !== m[2] || writer.name !== entry.fullName) {
        throw new ClipnError('INTERNAL', `schema ${join(dir, file)}: expected record ${entry.fullName} with fingerprint ${m[2]}, got ${writer.name ?? writer.typeName} with ${fingerprintHex}`);
      }
      if (fingerprintHex === entry.fingerprintHex) continue;
      this.previous.set(fingerprintHex, { entry, fingerprintHex, resolver: entry.type.createResolver(writer), scanPlan: compileScanPlan(writer) });
    }
  }

  /** The earlier schema with this fingerprint (16 hex digits), if any. */
  previousByFingerprintHex(hex: string): PreviousSchema | undefined {
    return this.previous.get(hex);
  }

  /**
   * The Avro binary body of `value` under this version's schema, without framing: the same bytes
   * whichever wire format carries the record (what signatures cover).
   */
  canonicalBody(name: RecordName, value: unknown): Buffer {
    return this.encodeBody(name, value);
  }

  /** The schema of a record. */
  get(name: RecordName): SchemaEntry {
    const entry = this.byName.get(name);
    if (entry === undefined) throw new ClipnError('CODEC_ENCODE_FAILED', `record name: expected one of ${RECORD_NAMES.join(', ')}, got ${JSON.stringify(name)}`);
    return entry;
  }

  /** The schema with this fingerprint (16 hex digits), if any. */
  byFingerprintHex(hex: string): SchemaEntry | undefined {
    return this.byFingerprint.get(hex);
  }

  /** The schema with this full name (`io.clipn.v1.X`), if any. */
  byFullName(fullName: string): SchemaEntry | undefined {
    return this.entries().find((e) => e.fullName === fullName);
  }

  /** Every schema, in {@link RECORD_NAMES} order. */
  entries(): SchemaEntry[] {
    return [...this.byName.values()];
  }

  /** Field paths where `value` does not fit the record's schema, each with expected and got. */
  problems(name: RecordName, value: unknown): string[] {
    const problems: string[] = [];
    this.get(name).type.isValid(value, {
      errorHook: (path: string[], got: unknown, type: avro.Type) => problems.push(`${path.join('.') || '(record)'}: expected ${describe(type)}, got ${preview(got)}`),
    });
    return problems;
  }

  /** Encodes the body, refusing a value that does not fit (CODEC_ENCODE_FAILED with every path). */
  encodeBody(name: RecordName, value: unknown): Buffer {
    const problems = this.problems(name, value);
    if (problems.length > 0) {
      throw new ClipnError('CODEC_ENCODE_FAILED', `${name}: ${problems.join('; ')}`, { details: { record: name, problems } });
    }
    return this.get(name).type.toBuffer(value);
  }
}

function describe(type: avro.Type): string {
  if (type.typeName === 'union:unwrapped' || type.typeName === 'union:wrapped') {
    return (type as unknown as { types: avro.Type[] }).types.map(describe).join(' | ');
  }
  if (type.name !== undefined) return `${type.typeName} ${type.name}`;
  const schema = type.schema() as unknown;
  return typeof schema === 'string' ? schema : JSON.stringify(schema).slice(0, 80);
}

function preview(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value)) return `${value} (not a safe integer)`;
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
