import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCodec, rabinFingerprint, RECORD_NAMES, SchemaRegistry } from '../../src/codec/index.js';
import { isClipnError } from '../../src/errors.js';
import { exampleRecords } from '../helpers/records.js';

test('CRC-64-AVRO matches vectors computed by an independent implementation (fastavro)', () => {
  assert.equal(rabinFingerprint('"int"').toString('hex'), '8f5c393f1ad57572');
  assert.equal(rabinFingerprint('"null"').toString('hex'), '8a8f25cce724dd63');
  assert.equal(rabinFingerprint('{"type":"array","items":"string"}').toString('hex'), '9fd72f2656325bce');
});

test('every record round-trips in single-object encoding with its fingerprint in the header', async () => {
  const codec = createCodec({ registryUrl: null });
  const examples = exampleRecords();
  const registry = new SchemaRegistry('schemas');
  for (const name of RECORD_NAMES) {
    const bytes = await codec.encode(name, examples[name]);
    assert.deepEqual([...bytes.subarray(0, 2)], [0xc3, 0x01]);
    assert.equal(bytes.subarray(2, 10).toString('hex'), registry.get(name).fingerprintHex);
    assert.ok(codec.looksLikeRecord(bytes));
    const back = await codec.decode(bytes, name);
    assert.equal(back.name, name);
    assert.deepEqual(await codec.encode(name, back.value), bytes);
  }
});

test('fingerprints are distinct per record', () => {
  const registry = new SchemaRegistry('schemas');
  assert.equal(new Set(registry.entries().map((e) => e.fingerprintHex)).size, RECORD_NAMES.length);
});

test('bad input gets coded errors', async () => {
  const codec = createCodec({ registryUrl: null });
  const good = await codec.encode('LabelSet', exampleRecords().LabelSet);
  const unknown = Buffer.from(good);
  unknown[5] ^= 0xff;
  await assert.rejects(codec.decode(unknown), (e: unknown) => isClipnError(e, 'CODEC_UNKNOWN_FINGERPRINT') && /unknown schema fingerprint/.test((e as Error).message));
  await assert.rejects(codec.decode(Buffer.from([0xff, 0xd8, 0xff])), (e: unknown) => isClipnError(e, 'CODEC_DECODE_FAILED'));
  await assert.rejects(codec.decode(good.subarray(0, 12)), (e: unknown) => isClipnError(e, 'CODEC_DECODE_FAILED'));
  await assert.rejects(codec.decode(good, 'TaggedImage'), (e: unknown) => isClipnError(e, 'CODEC_DECODE_FAILED') && /expected a TaggedImage/.test((e as Error).message));
  await assert.rejects(codec.encode('LabelSet', { ...(exampleRecords().LabelSet as object), version: 'one' }), (e: unknown) => isClipnError(e, 'CODEC_ENCODE_FAILED') && /version/.test((e as Error).message));
  assert.equal(codec.looksLikeRecord(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0, 0, 0])), false);
});

test('registry wire format: registers once, frames with the schema id, decodes by id', async () => {
  const subjects: string[] = [];
  const schemas = new Map<number, string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const m = req.url?.match(/^\/subjects\/([^/]+)\/versions$/);
      if (req.method === 'POST' && m) {
        subjects.push(decodeURIComponent(m[1]!));
        const id = 100 + schemas.size;
        schemas.set(id, (JSON.parse(body) as { schema: string }).schema);
        res.end(JSON.stringify({ id }));
        return;
      }
      const g = req.url?.match(/^\/schemas\/ids\/(\d+)$/);
      if (g && schemas.has(Number(g[1]))) return void res.end(JSON.stringify({ schema: schemas.get(Number(g[1])) }));
      res.statusCode = 404;
      res.end('{"error_code":40403}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const codec = createCodec({ registryUrl: url });
    const value = exampleRecords().LabelSet;
    const a = await codec.encode('LabelSet', value);
    const b = await codec.encode('LabelSet', value);
    assert.deepEqual(subjects, ['io.clipn.v1.LabelSet']);
    assert.equal(a[0], 0);
    assert.equal(a.readUInt32BE(1), 100);
    assert.deepEqual(a, b);
    const reader = createCodec({ registryUrl: url });
    assert.equal((await reader.decode(a, 'LabelSet')).name, 'LabelSet');
    const unknownId = Buffer.from(a);
    unknownId.writeUInt32BE(999, 1);
    await assert.rejects(reader.decode(unknownId), (e: unknown) => isClipnError(e, 'CODEC_UNKNOWN_FINGERPRINT'));
  } finally {
    server.close();
  }
});
