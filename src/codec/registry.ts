/**
 * The record schemas of schemas/*.avsc, parsed once with avsc (the only importer of avsc), each
 * known by name and by its CRC-64-AVRO fingerprint.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import avro from 'avsc';
import { ClipnError } from '../errors.js';
import { rabinFingerprint } from './fingerprint.js';

/** The records the system reads and writes. */
export const RECORD_NAMES = ['ImageRequest', 'TaggedImage', 'ReviewItem', 'DeadLetter', 'LabelSet', 'ModelRelease', 'ReviewDecision'] as const;
export type RecordName = (typeof RECORD_NAMES)[number];

export interface SchemaEntry {
  name: RecordName;
  type: avro.Type;
  /** The schema JSON as written in the .avsc file (registries want it). */
  schemaText: string;
  fingerprint: Buffer;
  fingerprintHex: string;
}

export class SchemaRegistry {
  private readonly byName = new Map<RecordName, SchemaEntry>();
  private readonly byFingerprint = new Map<string, SchemaEntry>();

  /** Loads every record schema from `dir` (the package's schemas/ folder). */
  constructor(dir: string) {
    const files = new Set(readdirSync(dir));
    for (const name of RECORD_NAMES) {
      if (!files.has(`${name}.avsc`)) throw new ClipnError('INTERNAL', `schema ${name}.avsc is missing from ${dir}`);
      const schemaText = readFileSync(join(dir, `${name}.avsc`), 'utf8');
      const type = avro.Type.forSchema(JSON.parse(schemaText) as avro.Schema, { logicalTypes: {} });
      const fingerprint = rabinFingerprint(JSON.stringify(type.schema()));
      const entry: SchemaEntry = { name, type, schemaText, fingerprint, fingerprintHex: fingerprint.toString('hex') };
      this.byName.set(name, entry);
      this.byFingerprint.set(entry.fingerprintHex, entry);
    }
  }

  get(name: RecordName): SchemaEntry {
    return this.byName.get(name)!;
  }

  byFingerprintHex(hex: string): SchemaEntry | undefined {
    return this.byFingerprint.get(hex);
  }

  entries(): SchemaEntry[] {
    return [...this.byName.values()];
  }
}

/** Field paths where `value` does not fit `type`, for error messages. */
export function invalidPaths(type: avro.Type, value: unknown): string[] {
  const paths: string[] = [];
  type.isValid(value, { errorHook: (path: string[], v: unknown, t: avro.Type) => paths.push(`${path.join('.') || '(root)'}: expected ${describe(t)}, got ${preview(v)}`) });
  return paths;
}

function describe(t: avro.Type): string {
  const s = t.schema() as unknown;
  return typeof s === 'string' ? s : JSON.stringify(s).slice(0, 80);
}

function preview(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Buffer.isBuffer(v)) return `${v.length} bytes`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.slice(0, 60);
}
