import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec, DEFAULT_DECODE_LIMITS, RECORD_NAMES, SchemaCatalog, type DecodedRecord, type DecodeLimits, type RecordName } from '../../src/codec/index.js';
import { compileScanPlan } from '../../src/codec/bounded-scan.js';
import { ConfluentCodec } from '../../src/codec/confluent.js';
import { parseSchema } from '../../src/codec/schema-catalog.js';
import { ClipnError, isClipnError } from '../../src/errors.js';
import { bytesOf, encodeBySpec, fieldBytes, lengthPrefixed as str, zigzag as zz } from '../helpers/avro-spec.js';
import { exampleRecords, plain } from '../helpers/records.js';

const catalog = new SchemaCatalog('schemas');
const WRITER_ID = 900;

/** One wire format: how a body is framed and decoded, and where its offsets start. */
interface Framing {
  name: 'single-object' | 'confluent';
  header: number;
  where: string;
  frame(body: Uint8Array): Buffer;
  decode(bytes: Buffer): Promise<DecodedRecord>;
}

/**
 * Both framings of record `name` as written with the schemas of `schemasDir`. The registry is a
 * fake client object serving that schema as id 900; the reader's schemas are always schemas/,
 * so a changed writer schema is resolved into the current one.
 */
function framings(name: RecordName, schemasDir = 'schemas', limits: Partial<DecodeLimits> = {}): Framing[] {
  const writers = new SchemaCatalog(schemasDir);
  const single = createCodec({ registryUrl: null, schemasDir, ...limits });
  const registry = {
    register: async () => WRITER_ID,
    schemaById: async (id: number) => {
      if (id !== WRITER_ID) throw new ClipnError('CODEC_UNKNOWN_FINGERPRINT', `schema id ${id}: not in the fake registry`);
      return writers.get(name).schemaText;
    },
  };
  const confluent = new ConfluentCodec(catalog, registry, { ...DEFAULT_DECODE_LIMITS, ...limits });
  const id = Buffer.alloc(4);
  id.writeUInt32BE(WRITER_ID);
  return [
    { name: 'single-object', header: 10, where: '', frame: (body) => bytesOf(0xc3, 0x01, writers.get(name).fingerprint, body), decode: (bytes) => single.decode(bytes) },
    { name: 'confluent', header: 5, where: ` (schema id ${WRITER_ID})`, frame: (body) => bytesOf(0, id, body), decode: (bytes) => confluent.decode(bytes) },
  ];
}

/**
 * Decodes `body` in both framings; each must be refused fast with exactly this path, problem and
 * body offset (a problem that names offsets gets the framing's header length).
 */
async function refused(name: RecordName, body: Uint8Array, path: string, problem: string | ((header: number) => string), bodyOffset: number, formats = framings(name)): Promise<void> {
  for (const f of formats) {
    const attempt = async () => {
      const started = performance.now();
      const e = await f.decode(f.frame(body)).then(() => undefined, (x: unknown) => x);
      return { error: e, ms: performance.now() - started };
    };
    let { error, ms } = await attempt();
    // A pause of this shared 2-core machine is not the decoder's time: measure a slow refusal
    // again (up to 5 times) and keep the fastest, as the property test does.
    for (let again = 0; again < 4 && ms >= 50; again++) ms = Math.min(ms, (await attempt()).ms);
    assert.ok(isClipnError(error, 'CODEC_DECODE_FAILED'), `${f.name}: expected CODEC_DECODE_FAILED, got ${String(error)}`);
    const text = typeof problem === 'string' ? problem : problem(f.header);
    assert.equal(error.message, `${path}: ${text} at offset ${f.header + bodyOffset}${f.where}`, f.name);
    assert.deepEqual(error.details, { path, offset: f.header + bodyOffset, bytes: f.header + body.length }, f.name);
    assert.ok(ms < 50, `${f.name}: refused in ${ms.toFixed(1)} ms, expected < 50 ms`);
  }
}

/** Decodes `body` in both framings and returns the values. */
async function decoded(name: RecordName, body: Uint8Array, formats = framings(name)): Promise<unknown[]> {
  return Promise.all(formats.map(async (f) => plain((await f.decode(f.frame(body))).value)));
}

// ImageRequest up to its metadata map: id "bomb", an inline image of 0 bytes, contentType, labelSetId and caption null.
const imageRequestHead = bytesOf(str('bomb'), 0, 0, 0, 0, 0);
// LabelSet's fields after its labels, each at its shortest (nulls, empty strings and maps, zeros):
// built from the schema, so these tests follow it as it grows.
const labelSetFields = fieldBytes(catalog.get('LabelSet').type);
const labelSetTail = bytesOf(...labelSetFields.slice(labelSetFields.findIndex((f) => f.name === 'labels') + 1).map((f) => f.bytes));
const labelSetMin = catalog.get('LabelSet').scanPlan.root.min;
const labelSet = (labels: number[]) => bytesOf(str('x'), zz(1), labels, labelSetTail);

test('the 29-byte ImageRequest whose metadata map claims 2^60 entries is refused at once', async () => {
  const body = bytesOf(imageRequestHead, zz(2n ** 60n));
  assert.equal(body.length + 10, 29);
  await refused('ImageRequest', body, 'ImageRequest.metadata', 'block count 1152921504606846976 needs at least 2305843009213693952 bytes (2 per entry), 0 left', 10);
});

test('a LabelSet whose labels array claims 2^32-1 strings is refused at once', async () => {
  // header + id "" + version 0 + the count: 17 bytes, fewer than the record's minimum.
  const short = bytesOf(0, 0, zz(2 ** 32 - 1));
  assert.equal(short.length + 10, 17);
  assert.ok(labelSetMin > 7);
  await refused('LabelSet', short, 'LabelSet', `record LabelSet needs at least ${labelSetMin} bytes, 7 left`, 0);
  const body = bytesOf(0, 0, zz(2 ** 32 - 1), labelSetTail);
  await refused('LabelSet', body, 'LabelSet.labels', `block count 4294967295 needs at least 4294967295 bytes (1 per item), ${labelSetTail.length} left`, 2);
});

test('maps with huge counts, positive and negative, in every map of the schemas', async () => {
  const padding = Buffer.alloc(40, 0x61);
  await refused('ImageRequest', bytesOf(imageRequestHead, zz(2n ** 63n - 1n), padding), 'ImageRequest.metadata', 'block count 9223372036854775807 needs at least 18446744073709551614 bytes (2 per entry), 40 left', 10);
  await refused('ImageRequest', bytesOf(imageRequestHead, zz(-(2n ** 63n)), zz(4), padding), 'ImageRequest.metadata', 'block of 9223372036854775808 entries: expected a byte size in 18446744073709551616..40, got 4', 20);
  await refused('ImageRequest', bytesOf(imageRequestHead, zz(-3), zz(41), padding), 'ImageRequest.metadata', 'block of 3 entries: expected a byte size in 6..40, got 41', 11);
  // ModelRelease's lineage.metrics (map of double: 9 bytes an entry at least).
  const release = bytesOf(str('m'), str('v'), 0, 0, str('b'), 0, 0, 0, zz(2 ** 31), padding);
  await refused('ModelRelease', release, 'ModelRelease.lineage.metrics', 'block count 2147483648 needs at least 19327352832 bytes (9 per entry), 40 left', 11);
  // DeadLetter's headers (map of bytes), after a valid source.
  const dead = bytesOf(0, str('E'), str('m'), 0, str('t'), 0, 0, 0, 0, zz(2n ** 60n), padding);
  await refused('DeadLetter', dead, 'DeadLetter.headers', 'block count 1152921504606846976 needs at least 2305843009213693952 bytes (2 per entry), 40 left', 12);
});

test('arrays of constant-size items (floats) are checked as a whole, and read in every block form', async () => {
  const type = catalog.get('ReviewItem').type;
  const fields = (type as unknown as { fields: { name: string; type: typeof type }[] }).fields;
  const value = { ...exampleRecords().ReviewItem, imageEmbedding: [] };
  const at = fields.findIndex((f) => f.name === 'imageEmbedding');
  const head = bytesOf(...fields.slice(0, at).map((f) => encodeBySpec(f.type, (value as Record<string, unknown>)[f.name])));
  const rest = bytesOf(...fields.slice(at + 1).map((f) => encodeBySpec(f.type, (value as Record<string, unknown>)[f.name])));
  const body = (embedding: number[]) => bytesOf(head, embedding, rest);
  await refused('ReviewItem', body(zz(2 ** 40)), 'ReviewItem.imageEmbedding', `block count 1099511627776 needs at least 4398046511104 bytes (4 per item), ${rest.length} left`, head.length);
  const floats = [0, 0, 0x80, 0x3e, 0, 0, 0, 0xbf]; // 0.25 and -0.5, little-endian
  for (const embedding of [[...zz(2), ...floats, 0], [...zz(-2), ...zz(8), ...floats, 0], [...zz(-1), ...zz(4), ...floats.slice(0, 4), ...zz(1), ...floats.slice(4), 0]]) {
    const values = (await decoded('ReviewItem', body(embedding))) as { imageEmbedding: number[] }[];
    assert.deepEqual(values.map((v) => v.imageEmbedding), [[0.25, -0.5], [0.25, -0.5]]);
  }
  await refused('ReviewItem', body([...zz(-2), ...zz(7), ...floats, 0]), 'ReviewItem.imageEmbedding', `block of 2 items: expected a byte size in 8..${9 + rest.length}, got 7`, head.length + 1);
});

test('negative block counts with their byte size decode as the positive blocks do', async () => {
  const positive = await decoded('LabelSet', labelSet([...zz(2), ...str('a'), ...str('b'), 0]));
  assert.deepEqual((positive[0] as { labels: string[] }).labels, ['a', 'b']);
  assert.deepEqual(await decoded('LabelSet', labelSet([...zz(-2), ...zz(4), ...str('a'), ...str('b'), 0])), positive);
  assert.deepEqual(await decoded('LabelSet', labelSet([...zz(-1), ...zz(2), ...str('a'), ...zz(-1), ...zz(2), ...str('b'), 0])), positive);
  assert.deepEqual(await decoded('LabelSet', labelSet([...zz(1), ...str('a'), ...zz(-1), ...zz(2), ...str('b'), 0])), positive);
  const map = (await decoded('ImageRequest', bytesOf(imageRequestHead, zz(-1), zz(4), str('k'), str('v'), 0, 0))) as { metadata: unknown }[];
  assert.deepEqual(map.map((v) => v.metadata), [{ k: 'v' }, { k: 'v' }]);
});

test('every example record written in negative blocks of 1 and 2 items decodes to the same value', async () => {
  const examples = exampleRecords();
  for (const name of RECORD_NAMES) {
    const type = catalog.get(name).type;
    const avscBody = catalog.encodeBody(name, examples[name]);
    assert.deepEqual(encodeBySpec(type, examples[name]), avscBody, `${name}: the spec encoder writes what avsc writes`);
    for (const style of [{ itemsPerBlock: 1, negative: true }, { itemsPerBlock: 2, negative: true }, { itemsPerBlock: 1, negative: false }]) {
      const values = await decoded(name, encodeBySpec(type, examples[name], style));
      for (const value of values) assert.deepEqual(value, plain(examples[name]), `${name} ${JSON.stringify(style)}`);
    }
  }
});

test('a negative block whose byte size is negative, too small, too large or not where its items end is refused', async () => {
  const items = [...str('a'), ...str('b')];
  // The count at 3, the size at 4, the items at 5..8, the end marker at 9, then the tail: 5 + tail bytes after the size.
  const most = 5 + labelSetTail.length;
  await refused('LabelSet', labelSet([...zz(-2), ...zz(-4), ...items, 0]), 'LabelSet.labels', `block of 2 items: expected a byte size in 2..${most}, got -4`, 4);
  await refused('LabelSet', labelSet([...zz(-2), ...zz(1), ...items, 0]), 'LabelSet.labels', `block of 2 items: expected a byte size in 2..${most}, got 1`, 4);
  await refused('LabelSet', labelSet([...zz(-2), ...zz(60), ...items, 0]), 'LabelSet.labels', `block of 2 items: expected a byte size in 2..${most}, got 60`, 4);
  const ends = (sizeEnd: number) => (h: number) => `block of 2 items: expected them to end where its byte size says, at offset ${h + sizeEnd}, got their end at offset ${h + 9}`;
  await refused('LabelSet', labelSet([...zz(-2), ...zz(5), ...items, 0]), 'LabelSet.labels', ends(10), 9);
  await refused('LabelSet', labelSet([...zz(-2), ...zz(3), ...items, 0]), 'LabelSet.labels', ends(8), 9);
});

test('lengths beyond the bytes left, negative lengths, and bad union and enum indices', async () => {
  await refused('LabelSet', bytesOf(zz(100), Buffer.alloc(labelSetMin, 0x61)), 'LabelSet.id', `string length 100 needs 100 bytes, ${labelSetMin} left`, 0);
  await refused('LabelSet', labelSet([...zz(1), ...zz(2n ** 62n), 0]), 'LabelSet.labels[0]', `string length 4611686018427387904 needs 4611686018427387904 bytes, ${1 + labelSetTail.length} left`, 4);
  await refused('ImageRequest', bytesOf(str('x'), 0, zz(-5), Buffer.alloc(6)), 'ImageRequest.image.data', 'expected a bytes length >= 0, got -5', 3);
  await refused('ImageRequest', bytesOf(imageRequestHead, 2, str('k'), zz(-1), 0, 0), 'ImageRequest.metadata["k"]', 'expected a string length >= 0, got -1', 13);
  await refused('ImageRequest', bytesOf(imageRequestHead, 2, zz(9), 0, 0), 'ImageRequest.metadata[key of entry 0]', 'string length 9 needs 9 bytes, 2 left', 11);
  await refused('ImageRequest', bytesOf(str('x'), zz(2), Buffer.alloc(6)), 'ImageRequest.image', 'expected a union branch index in 0..1, got 2', 2);
  await refused('ImageRequest', bytesOf(str('x'), zz(-1), Buffer.alloc(6)), 'ImageRequest.image', 'expected a union branch index in 0..1, got -1', 2);
  await refused('ReviewDecision', bytesOf(str('i'), zz(-2), 0, 0, 0, 0, 0), 'ReviewDecision.decision', 'expected an enum index of Decision in 0..2, got -2', 2);
});

test('booleans other than 0 and 1, over-long and out-of-range varints, and a varint cut short', async () => {
  const deadLetter = (retriable: number) => bytesOf(0, str('E'), str('m'), retriable, str('t'), 0, 0, 0, 0, 0, 0, 0, 0, 0);
  await refused('DeadLetter', deadLetter(2), 'DeadLetter.retriable', 'expected a boolean byte 0 or 1, got 2', 5);
  assert.equal(((await decoded('DeadLetter', deadLetter(1)))[0] as { retriable: boolean }).retriable, true);
  const version = (bytes: number[]) => bytesOf(str('x'), bytes, 0, labelSetTail);
  await refused('LabelSet', version([...Array(10).fill(0x80), 0]), 'LabelSet.version', 'expected a long as a varint of at most 10 bytes, got more', 2);
  await refused('LabelSet', version([...Array(9).fill(0xff), 0x02]), 'LabelSet.version', 'expected a long within 64 bits, got a varint of 10 bytes ending in 0x2', 2);
  const image = (index: number[]) => bytesOf(str('x'), index, Buffer.alloc(6));
  await refused('ImageRequest', image([0x80, 0x80, 0x80, 0x80, 0x80, 0]), 'ImageRequest.image', 'expected a union branch index as a varint of at most 5 bytes, got more', 2);
  await refused('ImageRequest', image([0x80, 0x80, 0x80, 0x80, 0x10]), 'ImageRequest.image', 'expected a union branch index within 32 bits, got a varint of 5 bytes ending in 0x10', 2);
  // A padded varint is still the Avro encoding of 0: the inline branch.
  assert.ok('io.clipn.v1.InlineImage' in ((await decoded('ImageRequest', image([0x80, 0])))[0] as { image: object }).image);
  // updatedAt cut: the fields before it, then a varint byte that says more follows.
  const beforeUpdatedAt = labelSetFields.slice(labelSetFields.findIndex((f) => f.name === 'labels') + 1, labelSetFields.findIndex((f) => f.name === 'updatedAt'));
  // A long id keeps the cut record above the record's minimum size, so the scan reaches updatedAt.
  const cut = bytesOf(str('x'.repeat(labelSetMin)), 0, 0, ...beforeUpdatedAt.map((f) => f.bytes), 0x80);
  await refused('LabelSet', cut, 'LabelSet.updatedAt', 'expected a long (varint), got the end of the input', cut.length - 1);
  // The largest long passes the scan; avsc then refuses it as beyond a safe integer.
  for (const f of framings('LabelSet')) {
    await assert.rejects(f.decode(f.frame(version(zz(2n ** 63n - 1n)))), (e: unknown) => isClipnError(e, 'CODEC_DECODE_FAILED') && /does not decode: potential precision loss/.test(e.message));
  }
});

test('every strict prefix of every example record is refused, and so is one trailing byte', async () => {
  const examples = exampleRecords();
  for (const name of RECORD_NAMES) {
    const body = catalog.encodeBody(name, examples[name]);
    const formats = framings(name);
    for (let length = 0; length < body.length; length++) {
      for (const f of formats) {
        await assert.rejects(f.decode(f.frame(body.subarray(0, length))), (e: unknown) => isClipnError(e, 'CODEC_DECODE_FAILED'), `${name} cut to ${length} bytes`);
      }
    }
    await refused(name, bytesOf(body, 0), name, 'expected the record to end the input, got 1 trailing byte', body.length, formats);
    assert.deepEqual(await decoded(name, body, formats), [plain(examples[name]), plain(examples[name])]);
  }
});

/** schemas/ with LabelSet extended by a recursive tree, arrays of zero-byte items and a record that always contains itself. */
function extendedSchemas(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clipn-scan-schemas-'));
  cpSync('schemas', dir, { recursive: true });
  const schema = JSON.parse(readFileSync(join(dir, 'LabelSet.avsc'), 'utf8')) as { fields: unknown[] };
  schema.fields.push(
    { name: 'tree', type: ['null', { type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }] }], default: null },
    { name: 'empties', type: { type: 'array', items: 'null' }, default: [] },
    { name: 'grid', type: { type: 'array', items: { type: 'array', items: 'null' } }, default: [] },
    { name: 'loop', type: ['null', { type: 'record', name: 'Loop', fields: [{ name: 'self', type: 'Loop' }] }], default: null },
  );
  writeFileSync(join(dir, 'LabelSet.avsc'), JSON.stringify(schema));
  return dir;
}

const extended = extendedSchemas();
const BASE = bytesOf(str('x'), 0, 0, labelSetTail); // a LabelSet with id "x" and every other field at its shortest
const B = BASE.length;
const tree = (nodes: number) => [...Array(nodes).fill(2), 0];
const extendedBody = (parts: { tree?: number[]; empties?: number[]; grid?: number[]; loop?: number[] }) =>
  bytesOf(BASE, parts.tree ?? [0], parts.empties ?? [0], parts.grid ?? [0], parts.loop ?? [0]);

test('nesting deeper than maxNestingDepth is refused, naming the path', async () => {
  const formats = framings('LabelSet', extended);
  // LabelSet is level 1: 63 nested nodes reach level 64.
  const [single, confluent] = (await decoded('LabelSet', extendedBody({ tree: tree(63) }), formats)) as Record<string, unknown>[];
  assert.ok(single!.tree !== null && !('tree' in confluent!), 'the registry reader resolves the extra fields away');
  const path = `LabelSet.tree${'.next'.repeat(63)}`;
  await refused('LabelSet', extendedBody({ tree: tree(64) }), path, 'expected nesting at most 64 deep (maxNestingDepth), got 65', B + 64, formats);
  const shallow = framings('LabelSet', extended, { maxNestingDepth: 4 });
  await decoded('LabelSet', extendedBody({ tree: tree(3) }), shallow);
  await refused('LabelSet', extendedBody({ tree: tree(4) }), 'LabelSet.tree.next.next.next', 'expected nesting at most 4 deep (maxNestingDepth), got 5', B + 4, shallow);
});

test('arrays of zero-byte items: the count is capped per array and per record, never walked', async () => {
  const formats = framings('LabelSet', extended);
  const [single] = (await decoded('LabelSet', extendedBody({ empties: [...zz(1_000_000), 0] }), formats)) as { empties: null[] }[];
  assert.equal(single!.empties.length, 1_000_000);
  await refused('LabelSet', extendedBody({ empties: [...zz(1_000_001), 0] }), 'LabelSet.empties', 'expected at most 1000000 zero-byte items in one array (maxZeroByteItems), got 1000001', B + 1, formats);
  await refused('LabelSet', extendedBody({ empties: [...zz(2n ** 62n), 0] }), 'LabelSet.empties', 'expected at most 1000000 zero-byte items in one array (maxZeroByteItems), got 4611686018427387904', B + 1, formats);
  await refused('LabelSet', extendedBody({ empties: [...zz(600_000), ...zz(400_001), 0] }), 'LabelSet.empties', 'expected at most 1000000 zero-byte items in one array (maxZeroByteItems), got 600000 and a block of 400001 more', B + 4, formats);
  // Negative blocks of zero-byte items have size 0.
  assert.equal(((await decoded('LabelSet', extendedBody({ empties: [...zz(-3), 0, 0] }), formats))[0] as { empties: null[] }).empties.length, 3);
  await refused('LabelSet', extendedBody({ empties: [...zz(-3), ...zz(2), 0] }), 'LabelSet.empties', (h) => `block of 3 items: expected them to end where its byte size says, at offset ${h + B + 5}, got their end at offset ${h + B + 3}`, B + 3, formats);
  // Arrays of arrays of nulls: each inner array within the cap, the record over it.
  const grid = [...zz(2), ...zz(600_000), 0, ...zz(600_000), 0, 0];
  await refused('LabelSet', extendedBody({ grid }), 'LabelSet.grid[1]', 'expected at most 1000000 zero-byte items in the record (maxZeroByteItemsPerRecord), got 1200000', B + 7, formats);
  await refused('LabelSet', extendedBody({ empties: [...zz(700_000), 0], grid: [...zz(1), ...zz(400_000), 0, 0] }), 'LabelSet.grid[0]', 'expected at most 1000000 zero-byte items in the record (maxZeroByteItemsPerRecord), got 1100000', B + 6, formats);
  const small = framings('LabelSet', extended, { maxZeroByteItems: 10, maxZeroByteItemsPerRecord: 15 });
  await decoded('LabelSet', extendedBody({ grid: [...zz(2), ...zz(10), 0, ...zz(5), 0, 0] }), small);
  await refused('LabelSet', extendedBody({ grid: [...zz(2), ...zz(10), 0, ...zz(6), 0, 0] }), 'LabelSet.grid[1]', 'expected at most 15 zero-byte items in the record (maxZeroByteItemsPerRecord), got 16', B + 5, small);
});

test('a record that always contains itself has no finite encoding and is refused when chosen', async () => {
  await refused('LabelSet', extendedBody({ loop: [2, 0, 0, 0] }), 'LabelSet.loop', 'record Loop has no finite encoding (it always contains itself)', B + 4, framings('LabelSet', extended));
});

test('minimum encoded sizes are computed once per type, through recursion', () => {
  const minimum = (schema: unknown) => compileScanPlan(parseSchema(JSON.stringify(schema), 'test')).root.min;
  assert.equal(catalog.get('ImageRequest').scanPlan.root.min, 7);
  // LabelSet's minimum is its shortest encoding: every field at its shortest.
  assert.equal(labelSetMin, bytesOf(...labelSetFields.map((f) => f.bytes)).length);
  assert.equal(catalog.get('DeadLetter').scanPlan.root.min, 14);
  assert.equal(minimum({ type: 'record', name: 'N', fields: [{ name: 'v', type: 'int' }, { name: 'next', type: ['null', 'N'] }] }), 2);
  assert.equal(minimum({ type: 'record', name: 'E', fields: [{ name: 'a', type: 'null' }, { name: 'f', type: { type: 'fixed', name: 'F', size: 0 } }] }), 0);
  assert.equal(minimum({ type: 'record', name: 'P', fields: [{ name: 'x', type: { type: 'fixed', name: 'G', size: 16 } }, { name: 'd', type: 'double' }, { name: 'm', type: { type: 'map', values: 'P' } }] }), 25);
  assert.equal(minimum({ type: 'record', name: 'L', fields: [{ name: 'self', type: 'L' }] }), Infinity);
});
