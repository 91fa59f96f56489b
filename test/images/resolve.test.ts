import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { imageOptions, resolveImage, type ImageOptionsInput, type ResolveOptions } from '../../src/images/index.js';

/** The bytes of a URI source. */
const resolveUri = async (uri: string, options: Parameters<typeof resolveImage>[1], resolveOptions?: ResolveOptions): Promise<Buffer> => (await resolveImage({ kind: 'uri', uri }, options, resolveOptions)).bytes;
import { isClipnError, type ErrorCode } from '../../src/errors.js';

/** An HTTP server on 127.0.0.1 for one test; `close` also drops connections it left open. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

const local = (fetch: ImageOptionsInput['fetch'] = {}, rest: ImageOptionsInput = {}) => imageOptions({ ...rest, fetch: { allowPrivateNetworks: true, ...fetch } });
const isCode = (code: ErrorCode, check: (e: Error & { details: Readonly<Record<string, unknown>> }) => boolean = () => true) => (e: unknown) => isClipnError(e, code) && check(e);

test('inline bytes pass through with their declared type; too many bytes are refused', async () => {
  const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1);
  const got = await resolveImage({ kind: 'inline', bytes, contentType: 'image/png' }, imageOptions());
  assert.deepEqual([...got.bytes], [8, 7, 6]);
  assert.equal(got.contentType, 'image/png');
  assert.equal((await resolveImage({ kind: 'inline', bytes }, imageOptions())).contentType, null);
  await assert.rejects(resolveImage({ kind: 'inline', bytes }, imageOptions({ maxBytes: 2 })), isCode('IMAGE_TOO_MANY_BYTES', (e) => e.details.limit === 2 && e.details.got === 3));
});

test('loopback is refused by default, by address and by name, and fetched when private networks are allowed', async () => {
  const { url, close } = await serve((_, res) => {
    res.setHeader('content-type', 'image/png');
    res.end(Buffer.from([1, 2, 3]));
  });
  try {
    await assert.rejects(resolveUri(`${url}/x.png`, imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN', (e) => /internal address/.test(e.message)));
    const byName = url.replace('127.0.0.1', 'localhost');
    await assert.rejects(resolveUri(`${byName}/x.png`, imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN'));
    await assert.rejects(resolveUri('http://[::1]:9/x.png', imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN'));
    await assert.rejects(resolveUri('http://169.254.169.254/latest/meta-data', imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN'));
    const got = await resolveImage({ kind: 'uri', uri: `${url}/x.png` }, local());
    assert.deepEqual([...got.bytes], [1, 2, 3]);
    assert.equal(got.contentType, 'image/png');
  } finally {
    await close();
  }
});

test('size cap: on a stream without Content-Length, and on a declared length before any body', async () => {
  const { url, close } = await serve((req, res) => {
    if (req.url === '/declared') {
      res.setHeader('content-length', '5000');
      res.write(Buffer.alloc(10)); // the rest never comes: the header alone must be enough
      return;
    }
    // Chunked: no Content-Length; 600 bytes now, 600 more once the first are flushed.
    res.write(Buffer.alloc(600), () => res.end(Buffer.alloc(600)));
  });
  try {
    await assert.rejects(resolveUri(`${url}/stream`, local({ maxBytes: 1000 })), isCode('IMAGE_TOO_MANY_BYTES', (e) => e.details.limit === 1000));
    // The smaller of images.maxBytes and images.fetch.maxBytes applies.
    await assert.rejects(resolveUri(`${url}/stream`, local({ maxBytes: 1_000_000 }, { maxBytes: 1000 })), isCode('IMAGE_TOO_MANY_BYTES'));
    await assert.rejects(resolveUri(`${url}/declared`, local({ maxBytes: 1000 })), isCode('IMAGE_TOO_MANY_BYTES', (e) => e.details.got === 5000));
    assert.equal((await resolveUri(`${url}/stream`, local({ maxBytes: 1200 }))).length, 1200);
  } finally {
    await close();
  }
});

test('a server that never finishes times out; a caller abort cancels; HTTP and connection errors are coded', async () => {
  const { url, close } = await serve((req, res) => {
    if (req.url === '/stall') res.write(Buffer.alloc(10)); // never ends
    else if (req.url === '/busy') (res.statusCode = 503), res.end();
    else (res.statusCode = 404), res.end();
  });
  try {
    const started = performance.now();
    await assert.rejects(resolveUri(`${url}/stall`, local({ timeoutMs: 200 })), isCode('IMAGE_FETCH_TIMEOUT', (e) => e.details.limit === 200));
    assert.ok(performance.now() - started < 5000, 'the timeout, not the test runner, ended the fetch');
    const controller = new AbortController();
    const pending = resolveUri(`${url}/stall`, local({ timeoutMs: 60_000 }), { signal: controller.signal });
    controller.abort();
    await assert.rejects(pending, isCode('IMAGE_FETCH_FAILED', (e) => e.details.cancelled === true));
    await assert.rejects(resolveUri(`${url}/missing`, local()), (e: unknown) => isClipnError(e, 'IMAGE_FETCH_FAILED') && /404/.test(e.message) && !e.retriable);
    await assert.rejects(resolveUri(`${url}/busy`, local()), (e: unknown) => isClipnError(e, 'IMAGE_FETCH_FAILED') && e.retriable);
  } finally {
    await close();
  }
  // Nothing listens on the port any more.
  await assert.rejects(resolveUri(`${url}/gone`, local()), isCode('IMAGE_FETCH_FAILED'));
});

test('redirects: followed up to the limit, and every hop is checked again', async () => {
  const { url, close } = await serve((req, res) => {
    const hops = /^\/hop\/(\d+)$/.exec(req.url ?? '');
    if (hops && Number(hops[1]) > 0) (res.statusCode = 302), res.setHeader('location', `/hop/${Number(hops[1]) - 1}`), res.end();
    else if (hops) res.end('final');
    else if (req.url === '/to-file') (res.statusCode = 301), res.setHeader('location', 'file:///etc/passwd'), res.end();
    else if (req.url === '/to-ftp') (res.statusCode = 307), res.setHeader('location', 'ftp://example.com/x.png'), res.end();
  });
  try {
    assert.equal((await resolveUri(`${url}/hop/3`, local({ maxRedirects: 3 }))).toString(), 'final');
    await assert.rejects(resolveUri(`${url}/hop/4`, local({ maxRedirects: 3 })), isCode('IMAGE_FETCH_FAILED', (e) => /more than 3 redirects/.test(e.message)));
    await assert.rejects(resolveUri(`${url}/hop/1`, local({ maxRedirects: 0 })), isCode('IMAGE_FETCH_FAILED'));
    await assert.rejects(resolveUri(`${url}/to-file`, local()), isCode('IMAGE_SOURCE_FORBIDDEN', (e) => e.details.hop === 1));
    await assert.rejects(resolveUri(`${url}/to-ftp`, local()), isCode('IMAGE_SOURCE_FORBIDDEN'));
  } finally {
    await close();
  }
});

test('schemes and URLs that are refused before any request', async () => {
  await assert.rejects(resolveUri('ftp://example.com/x.png', imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri('data:image/png;base64,AAAA', imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri('http://example.com/x.png', imageOptions({ fetch: { allowedSchemes: ['https'] } })), isCode('IMAGE_SOURCE_FORBIDDEN', (e) => /expected one of https/.test(e.message)));
  await assert.rejects(resolveUri('http://user:secret@127.0.0.1/x.png', local()), isCode('IMAGE_SOURCE_FORBIDDEN', (e) => !e.message.includes('secret')));
  await assert.rejects(resolveUri('not a uri', imageOptions()), isCode('INPUT_INVALID'));
});

test('file:// only inside the configured root; symlinks out, folders, other hosts and large files are refused', async () => {
  const base = mkdtempSync(join(tmpdir(), 'clipn-files-'));
  mkdirSync(join(base, 'root', 'sub'), { recursive: true });
  writeFileSync(join(base, 'root', 'in.png'), 'x');
  writeFileSync(join(base, 'root', 'big.png'), Buffer.alloc(2000));
  writeFileSync(join(base, 'secret.png'), 's');
  mkdirSync(join(base, 'root-sibling'));
  writeFileSync(join(base, 'root-sibling', 'x.png'), 'y');
  symlinkSync(join(base, 'secret.png'), join(base, 'root', 'link.png'));
  symlinkSync(join(base, 'root', 'in.png'), join(base, 'root', 'sub', 'inner-link.png'));
  const opts = imageOptions({ fileRoot: join(base, 'root'), maxBytes: 1000 });
  const uri = (...p: string[]) => pathToFileURL(join(base, ...p)).href;
  assert.equal((await resolveUri(uri('root', 'in.png'), opts)).toString(), 'x');
  assert.equal((await resolveUri(uri('root', 'sub', 'inner-link.png'), opts)).toString(), 'x', 'a link that stays inside is fine');
  assert.equal((await resolveUri(uri('root', 'sub', '..', 'in.png'), opts)).toString(), 'x');
  await assert.rejects(resolveUri(uri('secret.png'), opts), isCode('IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri(`file://${join(base, 'root')}/../secret.png`, opts), isCode('IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri(uri('root-sibling', 'x.png'), opts), isCode('IMAGE_SOURCE_FORBIDDEN'), 'a sibling sharing the prefix is outside');
  await assert.rejects(resolveUri(uri('root', 'link.png'), opts), isCode('IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri(uri('root', 'sub'), opts), isCode('IMAGE_SOURCE_FORBIDDEN', (e) => /regular file/.test(e.message)));
  await assert.rejects(resolveUri(uri('root', 'big.png'), opts), isCode('IMAGE_TOO_MANY_BYTES', (e) => e.details.got === 2000 && e.details.limit === 1000));
  await assert.rejects(resolveUri(uri('root', 'none.png'), opts), isCode('IMAGE_NOT_FOUND'));
  await assert.rejects(resolveUri(`file://otherhost${join(base, 'root', 'in.png')}`, opts), isCode('IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri(uri('root', 'in.png'), imageOptions()), isCode('IMAGE_SOURCE_FORBIDDEN', (e) => /fileRoot/.test(e.message)));
});

test('messages name a URL by scheme, host and path only: a pre-signed URL\'s query and fragment never appear', async () => {
  const secret = 'X-Amz-Signature=0ddba11c0ffee';
  const srv = await serve((req, res) => {
    if (req.url!.startsWith('/hop')) {
      res.writeHead(302, { location: `/missing.png?${secret}` });
      return res.end();
    }
    res.writeHead(404).end();
  });
  try {
    const failures = await Promise.all([
      resolveImage({ kind: 'uri', uri: `${srv.url}/missing.png?${secret}#frag` }, local()).catch((e: unknown) => e),
      resolveImage({ kind: 'uri', uri: `${srv.url}/hop.png?${secret}` }, local()).catch((e: unknown) => e),
      resolveImage({ kind: 'uri', uri: `${srv.url}/missing.png?${secret}` }, local({ allowedSchemes: ['https'] })).catch((e: unknown) => e),
      resolveImage({ kind: 'uri', uri: `file:///nowhere/a.png?${secret}` }, imageOptions({ fileRoot: tmpdir() })).catch((e: unknown) => e),
      resolveImage({ kind: 'uri', uri: `not a url ?${secret}` }, local()).catch((e: unknown) => e),
    ]);
    for (const e of failures) {
      assert.ok(isClipnError(e), String(e));
      assert.ok(!e.message.includes('0ddba11c0ffee') && !e.message.includes('frag'), e.message);
    }
    assert.match((failures[0] as Error).message, /^http:\/\/127\.0\.0\.1:\d+\/missing\.png: expected HTTP 200, got 404$/);
  } finally {
    await srv.close();
  }
});
