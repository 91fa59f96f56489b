import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_IMAGE_OPTIONS, isInternalAddress, resolveUri, type ImageOptions } from '../../src/images/index.js';
import { isClipnError } from '../../src/errors.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const allowLocal = (o: Partial<ImageOptions['fetch']> = {}): ImageOptions => ({ ...DEFAULT_IMAGE_OPTIONS, fetch: { ...DEFAULT_IMAGE_OPTIONS.fetch, allowPrivateNetworks: true, ...o } });

test('internal addresses are recognised', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '::1', 'fc00::1', 'fe80::1', '0.0.0.0', '::ffff:127.0.0.1']) assert.ok(isInternalAddress(a), a);
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700::1111']) assert.ok(!isInternalAddress(a), a);
});

test('loopback is refused by default and fetched when allowed', async () => {
  const { url, server } = await serve((_, res) => res.end(Buffer.from([1, 2, 3])));
  try {
    await assert.rejects(resolveUri(`${url}/x.png`, DEFAULT_IMAGE_OPTIONS), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN'));
    assert.deepEqual([...(await resolveUri(`${url}/x.png`, allowLocal()))], [1, 2, 3]);
  } finally {
    server.close();
  }
});

test('size cap holds on a stream without content-length; timeout on a stalled server; HTTP errors coded', async () => {
  const { url, server } = await serve((req, res) => {
    if (req.url === '/big') {
      res.write(Buffer.alloc(600));
      res.end(Buffer.alloc(600));
    } else if (req.url === '/stall') res.write(Buffer.alloc(10)); // never ends
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  try {
    await assert.rejects(resolveUri(`${url}/big`, { ...allowLocal({ maxBytes: 1000 }) }), (e: unknown) => isClipnError(e, 'IMAGE_TOO_MANY_BYTES'));
    await assert.rejects(resolveUri(`${url}/stall`, allowLocal({ timeoutMs: 200 })), (e: unknown) => isClipnError(e, 'IMAGE_FETCH_TIMEOUT'));
    await assert.rejects(resolveUri(`${url}/missing`, allowLocal()), (e: unknown) => isClipnError(e, 'IMAGE_FETCH_FAILED') && /404/.test((e as Error).message));
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('a redirect is re-checked at every hop', async () => {
  const { url, server } = await serve((req, res) => {
    res.statusCode = 302;
    res.setHeader('location', req.url === '/loop' ? '/loop' : 'http://169.254.169.254/latest/meta-data');
    res.end();
  });
  try {
    await assert.rejects(resolveUri(`${url}/loop`, allowLocal({ maxRedirects: 2 })), (e: unknown) => isClipnError(e, 'IMAGE_FETCH_FAILED') && /redirects/.test((e as Error).message));
  } finally {
    server.close();
  }
});

test('file:// only inside the configured root; symlinks out are refused', async () => {
  const base = mkdtempSync(join(tmpdir(), 'clipn-files-'));
  mkdirSync(join(base, 'root'));
  writeFileSync(join(base, 'root', 'in.png'), 'x');
  writeFileSync(join(base, 'secret.png'), 's');
  symlinkSync(join(base, 'secret.png'), join(base, 'root', 'link.png'));
  const opts = { ...DEFAULT_IMAGE_OPTIONS, fileRoot: join(base, 'root') };
  assert.equal((await resolveUri(pathToFileURL(join(base, 'root', 'in.png')).href, opts)).toString(), 'x');
  await assert.rejects(resolveUri(pathToFileURL(join(base, 'secret.png')).href, opts), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri(pathToFileURL(join(base, 'root', 'link.png')).href, opts), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri(pathToFileURL(join(base, 'root', 'none.png')).href, opts), (e: unknown) => isClipnError(e, 'IMAGE_NOT_FOUND'));
  await assert.rejects(resolveUri(pathToFileURL(join(base, 'root', 'in.png')).href, DEFAULT_IMAGE_OPTIONS), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri('ftp://example.com/x.png', DEFAULT_IMAGE_OPTIONS), (e: unknown) => isClipnError(e, 'IMAGE_SOURCE_FORBIDDEN'));
  await assert.rejects(resolveUri('not a uri', DEFAULT_IMAGE_OPTIONS), (e: unknown) => isClipnError(e, 'INPUT_INVALID'));
});
