import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RECORD_NAMES, rabinFingerprint, SchemaCatalog } from '../../src/codec/index.js';

const EMPTY = 0xc15d213aa4d7a795n;

/** CRC-64-AVRO bit by bit (no table): an independent formulation of the specification's algorithm. */
function bitwiseFingerprint(text: string): string {
  let fp = EMPTY;
  for (const byte of Buffer.from(text, 'utf8')) {
    fp ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) fp = fp & 1n ? (fp >> 1n) ^ EMPTY : fp >> 1n;
  }
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(fp);
  return out.toString('hex');
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };
const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);
const ORDER = ['name', 'type', 'fields', 'symbols', 'items', 'values', 'size'];

/** Parsing Canonical Form, written from the Avro specification's rules (PRIMITIVES, FULLNAMES, STRIP, ORDER). */
function canonicalForm(schema: Json, namespace = ''): string {
  if (typeof schema === 'string') {
    if (PRIMITIVES.has(schema) || schema.includes('.') || namespace === '') return JSON.stringify(schema);
    return JSON.stringify(`${namespace}.${schema}`);
  }
  if (Array.isArray(schema)) return `[${schema.map((s) => canonicalForm(s, namespace)).join(',')}]`;
  const obj = schema as Record<string, Json>;
  const type = obj.type as string;
  if (PRIMITIVES.has(type)) return JSON.stringify(type); // logicalType and other attributes are stripped
  if (type !== 'record' && type !== 'enum' && type !== 'fixed' && typeof obj.type !== 'string') return canonicalForm(obj.type, namespace);
  let ns = namespace;
  const parts: string[] = [];
  for (const key of ORDER) {
    if (!(key in obj)) continue;
    if (key === 'name') {
      const name = obj.name as string;
      ns = name.includes('.') ? name.slice(0, name.lastIndexOf('.')) : ((obj.namespace as string | undefined) ?? namespace);
      parts.push(`"name":${JSON.stringify(name.includes('.') || ns === '' ? name : `${ns}.${name}`)}`);
    } else if (key === 'type') parts.push(`"type":${JSON.stringify(type)}`);
    else if (key === 'fields') {
      const fields = (obj.fields as Record<string, Json>[]).map((f) => `{"name":${JSON.stringify(f.name)},"type":${canonicalForm(f.type as Json, ns)}}`);
      parts.push(`"fields":[${fields.join(',')}]`);
    } else if (key === 'items' || key === 'values') parts.push(`"${key}":${canonicalForm(obj[key] as Json, ns)}`);
    else parts.push(`"${key}":${JSON.stringify(obj[key])}`);
  }
  return `{${parts.join(',')}}`;
}

test('the table-driven fingerprint equals a bit-by-bit computation on assorted text', () => {
  for (const text of ['', 'a', '"int"', '{"type":"map","values":"bytes"}', 'ünïcødé ✓', 'x'.repeat(1000)]) {
    assert.equal(rabinFingerprint(text).toString('hex'), bitwiseFingerprint(text), text.slice(0, 20));
  }
});

test('primitive fingerprints equal those of the Apache Avro Python library (1.12.0)', () => {
  // avro.schema.parse('"int"').fingerprint('CRC-64-AVRO').hex() and likewise.
  assert.equal(rabinFingerprint('"int"').toString('hex'), '8f5c393f1ad57572');
  assert.equal(rabinFingerprint('"null"').toString('hex'), '8a8f25cce724dd63');
  assert.equal(rabinFingerprint('"string"').toString('hex'), 'c70345637248018f');
});

test('every record has the canonical form the specification prescribes and a distinct fingerprint', () => {
  const catalog = new SchemaCatalog('schemas');
  for (const entry of catalog.entries()) {
    const expected = canonicalForm(JSON.parse(readFileSync(join('schemas', `${entry.name}.avsc`), 'utf8')) as Json);
    assert.equal(entry.canonicalForm, expected, entry.name);
    assert.equal(entry.fingerprintHex, bitwiseFingerprint(expected), entry.name);
  }
  assert.equal(new Set(catalog.entries().map((e) => e.fingerprintHex)).size, RECORD_NAMES.length);
});

test('record fingerprints equal those of the Apache Avro Python library', () => {
  // Computed with avro 1.12.0 after replacing logical types by their underlying type: that library
  // (unlike Java's SchemaNormalization) keeps {"type":"long"} for them in the canonical form.
  const expected: Record<string, string> = {
    DeadLetter: '4948694e50cf7f04',
    ImageRequest: 'a0c5fef54562da49',
    LabelSet: 'a7177e00e392e3dd',
    ModelRelease: 'c69fc71448aa749d',
    ReviewDecision: '11fc6bb7ce923375',
    ReviewItem: '2868e6db1ccd274b',
    TaggedImage: '0cc4a7eaa56cd3d6',
  };
  const catalog = new SchemaCatalog('schemas');
  for (const name of RECORD_NAMES) assert.equal(catalog.get(name).fingerprintHex, expected[name], name);
});

test('the earlier schemas kept in schemas/previous have the fingerprints of the Apache Avro Python library that their names carry', () => {
  // Computed with avro 1.12.0 as above: the LabelSet and ModelRelease before signatures.
  const catalog = new SchemaCatalog('schemas');
  for (const [name, hex] of [['LabelSet', '525a8eacd2a90838'], ['ModelRelease', 'e501f5f3a6238d26']] as const) {
    const previous = catalog.previousByFingerprintHex(hex);
    assert.ok(previous, `${name} ${hex} is known`);
    assert.equal(previous.entry.name, name);
    const expected = canonicalForm(JSON.parse(readFileSync(join('schemas', 'previous', `${name}-${hex}.avsc`), 'utf8')) as Json);
    assert.equal(bitwiseFingerprint(expected), hex, name);
  }
});
