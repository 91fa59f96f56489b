import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCodec, isConfluentFramed, SchemaCatalog } from '../../src/codec/index.js';
import { isClipnError, type ErrorCode } from '../../src/errors.js';
import { exampleRecords, plain } from '../helpers/records.js';

interface FakeRegistry {
  url: string;
  /** Subjects of every POST, in order. */
  posts: string[];
  /** Authorization headers seen. */
  auth: (string | undefined)[];
  /** Registered schemas by id (preload to simulate other writers). */
  schemas: Map<number, string>;
  /** Status to answer the next requests with, consumed one per request. */
  failures: number[];
  close(): Promise<void>;
}

/** A registry speaking the two REST calls the codec uses, under an optional path prefix. */
async function fakeRegistry(prefix = ''): Promise<FakeRegistry> {
  const state = { posts: [] as string[], auth: [] as (string | undefined)[], schemas: new Map<number, string>(), failures: [] as number[] };
  const ids = new Map<string, number>();
  const answer = (res: ServerResponse, status: number, body: unknown) => {
    res.statusCode = status;
    res.setHeader('content-type', 'application/vnd.schemaregistry.v1+json');
    res.end(JSON.stringify(body));
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      state.auth.push(req.headers.authorization);
      const failure = state.failures.shift();
      if (failure !== undefined) return answer(res, failure, { error_code: failure * 100, message: 'injected' });
      const path = (req.url ?? '').startsWith(prefix) ? (req.url ?? '').slice(prefix.length) : '';
      const post = /^\/subjects\/([^/]+)\/versions$/.exec(path);
      if (req.method === 'POST' && post) {
        const subject = decodeURIComponent(post[1]!);
        state.posts.push(subject);
        const schema = (JSON.parse(body) as { schema: string }).schema;
        const key = `${subject}\n${schema}`;
        if (!ids.has(key)) {
          ids.set(key, 100 + ids.size);
          state.schemas.set(ids.get(key)!, schema);
        }
        return answer(res, 200, { id: ids.get(key) });
      }
      const get = /^\/schemas\/ids\/(\d+)$/.exec(path);
      if (req.method === 'GET' && get && state.schemas.has(Number(get[1]))) return answer(res, 200, { schema: state.schemas.get(Number(get[1])) });
      answer(res, 404, { error_code: 40403, message: 'Schema not found' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...state,
    url: `http://127.0.0.1:${port}${prefix}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const fails = (code: ErrorCode, pattern: RegExp, retriable?: boolean) => (e: unknown) => {
  assert.ok(isClipnError(e, code), `expected ${code}, got ${String(e)}`);
  assert.match(e.message, pattern);
  if (retriable !== undefined) assert.equal(e.retriable, retriable);
  return true;
};

test('records are framed with magic 0 and the registered id; each schema is registered once', async () => {
  const registry = await fakeRegistry();
  try {
    const codec = createCodec({ registryUrl: registry.url });
    assert.equal(codec.format, 'confluent');
    const examples = exampleRecords();
    const [a, b] = await Promise.all([codec.encode('LabelSet', examples.LabelSet), codec.encode('LabelSet', examples.LabelSet)]);
    const tagged = await codec.encode('TaggedImage', examples.TaggedImage);
    assert.deepEqual(registry.posts, ['io.clipn.v1.LabelSet', 'io.clipn.v1.TaggedImage']);
    assert.equal(a[0], 0);
    assert.equal(a.readUInt32BE(1), 100);
    assert.equal(tagged.readUInt32BE(1), 101);
    assert.deepEqual(a, b);
    // The body is exactly the Avro binary encoding the single-object format carries.
    const single = await createCodec({ registryUrl: null }).encode('LabelSet', examples.LabelSet);
    assert.deepEqual(a.subarray(5), single.subarray(10));
    assert.ok(codec.looksLikeRecord(a) && isConfluentFramed(a));

    const reader = createCodec({ registryUrl: registry.url });
    const back = await reader.decode(tagged, 'TaggedImage');
    assert.deepEqual(plain(back.value), examples.TaggedImage);
    assert.equal((await reader.decode(a)).name, 'LabelSet');
    await assert.rejects(reader.decode(a, 'ReviewItem'), fails('CODEC_DECODE_FAILED', /expected a ReviewItem record, got a LabelSet \(schema id 100\)/));
  } finally {
    await registry.close();
  }
});

test('a record written with an older registered version of a schema is resolved into the current one', async () => {
  const registry = await fakeRegistry();
  try {
    // The "older" LabelSet: no description field.
    const dir = mkdtempSync(join(tmpdir(), 'clipn-schemas-'));
    cpSync('schemas', dir, { recursive: true });
    const schema = JSON.parse(readFileSync(join(dir, 'LabelSet.avsc'), 'utf8')) as { fields: { name: string }[] };
    schema.fields = schema.fields.filter((f) => f.name !== 'description');
    writeFileSync(join(dir, 'LabelSet.avsc'), JSON.stringify(schema));
    const older = new SchemaCatalog(dir);
    const { description: _dropped, ...oldValue } = exampleRecords().LabelSet;
    registry.schemas.set(7, older.get('LabelSet').schemaText);
    const bytes = Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), older.encodeBody('LabelSet', oldValue)]);
    const { value } = await createCodec({ registryUrl: registry.url }).decode(bytes, 'LabelSet');
    assert.deepEqual(plain(value), { ...oldValue, description: null });

    // A writer whose field cannot be read (a label list that became a string) is refused.
    const incompatible = JSON.parse(readFileSync('schemas/LabelSet.avsc', 'utf8')) as { fields: { name: string; type: unknown }[] };
    incompatible.fields.find((f) => f.name === 'labels')!.type = 'string';
    registry.schemas.set(8, JSON.stringify(incompatible));
    await assert.rejects(createCodec({ registryUrl: registry.url }).decode(Buffer.from([0, 0, 0, 0, 8, 2, 0x61])), fails('CODEC_DECODE_FAILED', /schema id 8: io\.clipn\.v1\.LabelSet as written cannot be read/));
  } finally {
    await registry.close();
  }
});

test('unknown ids and foreign schemas are fingerprint misses naming the id', async () => {
  const registry = await fakeRegistry();
  try {
    registry.schemas.set(5, JSON.stringify({ type: 'record', name: 'Other', namespace: 'com.example', fields: [] }));
    const codec = createCodec({ registryUrl: registry.url });
    await assert.rejects(codec.decode(Buffer.from([0, 0, 0, 3, 0xe7, 0])), fails('CODEC_UNKNOWN_FINGERPRINT', /\(schema id 999\): expected HTTP 200, got 404/));
    await assert.rejects(codec.decode(Buffer.from([0, 0, 0, 0, 5])), fails('CODEC_UNKNOWN_FINGERPRINT', /schema id 5: expected one of io\.clipn\.v1\.ImageRequest.*, got com\.example\.Other/));
  } finally {
    await registry.close();
  }
});

test('bad framing and garbled bodies are decode failures; images starting with 0 are not records', async () => {
  const registry = await fakeRegistry();
  try {
    const codec = createCodec({ registryUrl: registry.url });
    const good = await codec.encode('ReviewDecision', exampleRecords().ReviewDecision);
    await assert.rejects(codec.decode(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0])), fails('CODEC_DECODE_FAILED', /expected magic byte 00 .* got ff in 5 bytes/));
    await assert.rejects(codec.decode(Buffer.from([0, 0, 0])), fails('CODEC_DECODE_FAILED', /in 3 bytes/));
    await assert.rejects(codec.decode(good.subarray(0, 7)), fails('CODEC_DECODE_FAILED', /ReviewDecision: record ReviewDecision needs at least \d+ bytes, 2 left at offset 5 \(schema id 100\)$/));
    const avif = Buffer.concat([Buffer.from([0, 0, 0, 0x1c]), Buffer.from('ftypavif', 'latin1'), Buffer.alloc(20)]);
    const jp2 = Buffer.concat([Buffer.from([0, 0, 0, 0x0c]), Buffer.from('jP  ', 'latin1'), Buffer.from([0x0d, 0x0a, 0x87, 0x0a])]);
    assert.equal(codec.looksLikeRecord(avif), false);
    assert.equal(codec.looksLikeRecord(jp2), false);
  } finally {
    await registry.close();
  }
});

test('credentials in the URL become basic auth, a path prefix is kept, and neither leaks into errors', async () => {
  const registry = await fakeRegistry('/registry');
  try {
    const url = registry.url.replace('http://', 'http://svc%40acct:s3cr%3At@');
    const codec = createCodec({ registryUrl: url });
    const bytes = await codec.encode('ModelRelease', exampleRecords().ModelRelease);
    assert.equal(registry.auth[0], `Basic ${Buffer.from('svc@acct:s3cr:t').toString('base64')}`);
    assert.equal((await codec.decode(bytes, 'ModelRelease')).name, 'ModelRelease');
    registry.failures.push(401);
    await assert.rejects(codec.decode(Buffer.from([0, 0, 0, 0, 9])), (e: unknown) => {
      assert.ok(isClipnError(e, 'KAFKA_ERROR') && !e.retriable);
      assert.match(e.message, /got 401/);
      assert.doesNotMatch(e.message, /s3cr|svc/);
      return true;
    });
  } finally {
    await registry.close();
  }
});

test('registry failures: coded by status, not cached, and bad values never reach the registry', async () => {
  const registry = await fakeRegistry();
  try {
    const codec = createCodec({ registryUrl: registry.url });
    registry.failures.push(503);
    await assert.rejects(codec.encode('LabelSet', exampleRecords().LabelSet), fails('KAFKA_ERROR', /subject io\.clipn\.v1\.LabelSet\): expected HTTP 200, got 503/, true));
    assert.equal((await codec.encode('LabelSet', exampleRecords().LabelSet)).readUInt32BE(1), 100, 'retried after the failure');
    registry.failures.push(409);
    await assert.rejects(codec.encode('ReviewDecision', exampleRecords().ReviewDecision), fails('CODEC_ENCODE_FAILED', /got 409/, false));
    const before = registry.auth.length;
    await assert.rejects(codec.encode('ReviewDecision', { itemId: 1 }), fails('CODEC_ENCODE_FAILED', /itemId: expected string, got 1/));
    assert.equal(registry.auth.length, before, 'no request for an invalid value');
  } finally {
    await registry.close();
  }
  // The registry is gone now: unreachable is retriable.
  const codec = createCodec({ registryUrl: registry.url, registryTimeoutMs: 2000 });
  await assert.rejects(codec.encode('LabelSet', exampleRecords().LabelSet), fails('KAFKA_ERROR', /schema registry 127\.0\.0\.1:\d+ \(subject io\.clipn\.v1\.LabelSet\): unreachable/, true));
});
