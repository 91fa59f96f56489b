import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCodec, isSingleObject, RECORD_NAMES, SchemaCatalog } from '../../src/codec/index.js';
import { parseSchema } from '../../src/codec/schema-catalog.js';
import { isClipnError } from '../../src/errors.js';
import { exampleRecords, plain } from '../helpers/records.js';

const codec = createCodec({ registryUrl: null });
const catalog = new SchemaCatalog('schemas');

const rejectsWith = (code: Parameters<typeof isClipnError>[1], pattern: RegExp) => (e: unknown) => {
  assert.ok(isClipnError(e, code), `expected ${code}, got ${String(e)}`);
  assert.match(e.message, pattern);
  return true;
};

test('every record round-trips with the header and its fingerprint', async () => {
  const examples = exampleRecords();
  assert.equal(codec.format, 'single-object');
  for (const name of RECORD_NAMES) {
    const bytes = await codec.encode(name, examples[name]);
    assert.deepEqual([...bytes.subarray(0, 2)], [0xc3, 0x01], name);
    assert.equal(bytes.subarray(2, 10).toString('hex'), catalog.get(name).fingerprintHex, name);
    assert.ok(codec.looksLikeRecord(bytes) && isSingleObject(bytes), name);
    const back = await codec.decode(bytes, name);
    assert.equal(back.name, name);
    assert.deepEqual(plain(back.value), examples[name], name);
    const untyped = await codec.decode(bytes);
    assert.equal(untyped.name, name);
  }
});

test('decoded values keep their types: longs as numbers, bytes as Buffers, wrapped record unions', async () => {
  const { value } = await codec.decode(await codec.encode('ImageRequest', { ...exampleRecords().ImageRequest, producedAt: 1_700_000_000_123 }), 'ImageRequest');
  assert.equal(value.producedAt, 1_700_000_000_123);
  const image = value.image as { 'io.clipn.v1.InlineImage': { data: Buffer } };
  assert.ok(Buffer.isBuffer(image['io.clipn.v1.InlineImage'].data));
  const byUri = { ...exampleRecords().ImageRequest, image: { 'io.clipn.v1.ImageUri': { uri: 'https://x.example/a.png' } } };
  assert.deepEqual(plain((await codec.decode(await codec.encode('ImageRequest', byUri), 'ImageRequest')).value.image), byUri.image);
});

test('raw image bytes are not taken for records', () => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46, 0]);
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
  assert.equal(codec.looksLikeRecord(jpeg), false);
  assert.equal(codec.looksLikeRecord(png), false);
  assert.equal(isSingleObject(Buffer.from([0xc3, 0x01, 1, 2])), false, 'shorter than the header');
});

test('an unknown fingerprint is named in hex', async () => {
  const good = await codec.encode('LabelSet', exampleRecords().LabelSet);
  const unknown = Buffer.from(good);
  unknown.set([1, 2, 3, 4, 5, 6, 7, 8], 2);
  await assert.rejects(codec.decode(unknown), rejectsWith('CODEC_UNKNOWN_FINGERPRINT', /unknown schema fingerprint 0102030405060708/));
});

test('bad framing, a cut or padded body and the wrong record type are decode failures', async () => {
  const good = await codec.encode('LabelSet', exampleRecords().LabelSet);
  await assert.rejects(codec.decode(Buffer.from([0xff, 0xd8, 0xff])), rejectsWith('CODEC_DECODE_FAILED', /expected header c301 .* got ffd8 in 3 bytes/));
  await assert.rejects(codec.decode(Buffer.alloc(0)), rejectsWith('CODEC_DECODE_FAILED', /got nothing in 0 bytes/));
  await assert.rejects(codec.decode(good.subarray(0, 12)), rejectsWith('CODEC_DECODE_FAILED', /LabelSet: record LabelSet needs at least \d+ bytes, 2 left at offset 10$/));
  await assert.rejects(codec.decode(Buffer.concat([good, Buffer.from([7])])), rejectsWith('CODEC_DECODE_FAILED', new RegExp(`LabelSet: expected the record to end the input, got 1 trailing byte at offset ${good.length}$`)));
  await assert.rejects(codec.decode(good, 'TaggedImage'), rejectsWith('CODEC_DECODE_FAILED', /expected a TaggedImage record, got a LabelSet/));
  // A view into a larger buffer decodes from its own offset.
  const framed = Buffer.concat([Buffer.from('junk'), good]);
  assert.equal((await codec.decode(new Uint8Array(framed.buffer, framed.byteOffset + 4, good.length), 'LabelSet')).value.id, 'default');
});

test('a value that does not fit names every bad field path with expected and got', async () => {
  const ls = exampleRecords().LabelSet;
  await assert.rejects(codec.encode('LabelSet', { ...ls, version: 'one' }), rejectsWith('CODEC_ENCODE_FAILED', /LabelSet: version: expected long, got "one"/));
  await assert.rejects(codec.encode('LabelSet', { ...ls, routing: { rule: 7, params: {} } }), rejectsWith('CODEC_ENCODE_FAILED', /routing\.rule: expected string, got 7/));
  const tagged = exampleRecords().TaggedImage;
  await assert.rejects(
    codec.encode('TaggedImage', { ...tagged, scores: { ...tagged.scores, ctw: 'high' }, labelSet: { id: 'x' } }),
    rejectsWith('CODEC_ENCODE_FAILED', /scores\.ctw: expected double, got "high"; labelSet\.version: expected long, got nothing/),
  );
  await assert.rejects(codec.encode('DeadLetter', { ...exampleRecords().DeadLetter, originalValueBytes: 2 ** 60 }), rejectsWith('CODEC_ENCODE_FAILED', /originalValueBytes: .*not a safe integer/));
  await assert.rejects(codec.encode('ReviewDecision', null), rejectsWith('CODEC_ENCODE_FAILED', /\(record\): expected record io\.clipn\.v1\.ReviewDecision, got null/));
  await assert.rejects(codec.encode('Nope' as never, {}), rejectsWith('CODEC_ENCODE_FAILED', /record name: expected one of ImageRequest/));
});

test('records written with an earlier schema (schemas/previous) are read with the new fields at their defaults', async () => {
  const { LabelSet, ModelRelease } = exampleRecords();
  for (const [name, hex, value, defaults] of [
    ['LabelSet', '525a8eacd2a90838', LabelSet, { deleted: false, signature: null }],
    ['ModelRelease', 'e501f5f3a6238d26', ModelRelease, { sequence: 0, rollback: false, signature: null }],
  ] as const) {
    const { signature: _s, deleted: _d, sequence: _q, rollback: _r, ...old } = value as Record<string, unknown>;
    const writer = parseSchema(readFileSync(join('schemas', 'previous', `${name}-${hex}.avsc`), 'utf8'), name);
    const bytes = Buffer.concat([Buffer.from([0xc3, 0x01]), Buffer.from(hex, 'hex'), writer.toBuffer(old)]);
    const back = await codec.decode(bytes, name);
    assert.deepEqual(plain(back.value), { ...old, ...defaults }, name);
    // The bounded pre-scan reads the body as written: a cut one is still refused.
    await assert.rejects(codec.decode(bytes.subarray(0, bytes.length - 3), name), rejectsWith('CODEC_DECODE_FAILED', new RegExp(name)));
  }
});

test('the canonical body is the record without framing, the same in both wire formats', async () => {
  const value = exampleRecords().LabelSet;
  const framed = await codec.encode('LabelSet', value);
  assert.deepEqual(codec.canonicalBody('LabelSet', value), framed.subarray(10));
});
