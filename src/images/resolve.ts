/**
 * Fetches the bytes of an image named by URI, as untrusted input: http(s) with a time and size
 * limit, refusing addresses inside the network (loopback, link-local, private, cloud metadata)
 * unless allowed, re-checking every redirect; file:// only inside a configured root.
 */
import { lookup } from 'node:dns/promises';
import { readFile, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ipaddr from 'ipaddr.js';
import { ClipnError } from '../errors.js';
import type { ImageOptions } from './options.js';

/** True for an address a URL from untrusted input must not reach. */
export function isInternalAddress(address: string): boolean {
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() !== 'unicast';
}

async function checkHost(hostname: string, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = ipaddr.isValid(host) ? [host] : (await lookup(host, { all: true }).catch((e: Error) => {
    throw new ClipnError('IMAGE_FETCH_FAILED', `cannot resolve ${host}: ${e.message}`, { cause: e });
  })).map((a) => a.address);
  const internal = addresses.filter(isInternalAddress);
  if (internal.length > 0) {
    throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${host} resolves to an internal address (${internal.join(', ')}); allow private networks in config to fetch from it`, {
      details: { host, addresses },
    });
  }
}

async function readCapped(res: Response, maxBytes: number, url: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw new ClipnError('IMAGE_TOO_MANY_BYTES', `${url}: ${declared} bytes declared, the limit is ${maxBytes}`, { details: { limit: maxBytes, got: declared } });
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new ClipnError('IMAGE_TOO_MANY_BYTES', `${url}: more than ${maxBytes} bytes`, { details: { limit: maxBytes } });
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

async function fetchHttp(uri: string, options: ImageOptions): Promise<Buffer> {
  const f = options.fetch;
  const signal = AbortSignal.timeout(f.timeoutMs);
  let url = new URL(uri);
  try {
    for (let hop = 0; ; hop++) {
      const scheme = url.protocol.replace(':', '') as 'http' | 'https';
      if (!f.allowedSchemes.includes(scheme)) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `scheme ${scheme} is not allowed (allowed: ${f.allowedSchemes.join(', ')})`);
      await checkHost(url.hostname, f.allowPrivateNetworks);
      const res = await fetch(url, { redirect: 'manual', signal });
      if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
        if (hop >= f.maxRedirects) throw new ClipnError('IMAGE_FETCH_FAILED', `${uri}: more than ${f.maxRedirects} redirects`);
        url = new URL(res.headers.get('location')!, url);
        continue;
      }
      if (!res.ok) throw new ClipnError('IMAGE_FETCH_FAILED', `${url.href}: HTTP ${res.status}`, { retriable: res.status >= 500 || res.status === 429 });
      return await readCapped(res, Math.min(f.maxBytes, options.maxBytes), url.href);
    }
  } catch (error) {
    if (error instanceof ClipnError) throw error;
    if (signal.aborted) throw new ClipnError('IMAGE_FETCH_TIMEOUT', `${uri}: no complete answer within ${f.timeoutMs} ms`, { cause: error });
    throw new ClipnError('IMAGE_FETCH_FAILED', `${uri}: ${(error as Error).message}`, { cause: error });
  }
}

async function readFileUri(uri: string, options: ImageOptions): Promise<Buffer> {
  if (options.fileRoot === null) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', 'file:// URIs are refused: no images.fileRoot is configured');
  const root = await realpath(options.fileRoot);
  const path = await realpath(fileURLToPath(uri)).catch((e: NodeJS.ErrnoException) => {
    throw new ClipnError(e.code === 'ENOENT' ? 'IMAGE_NOT_FOUND' : 'IMAGE_FETCH_FAILED', `${uri}: ${e.message}`, { cause: e });
  });
  // realpath resolves symlinks, so a link pointing out of the root is caught here.
  if (path !== root && !path.startsWith(root + sep)) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${uri} is outside the allowed folder ${options.fileRoot}`);
  const bytes = await readFile(path);
  if (bytes.length > options.maxBytes) throw new ClipnError('IMAGE_TOO_MANY_BYTES', `${uri}: ${bytes.length} bytes, the limit is ${options.maxBytes}`);
  return bytes;
}

/** The bytes of an image URI (http, https, file). */
export async function resolveUri(uri: string, options: ImageOptions): Promise<Buffer> {
  let scheme: string;
  try {
    scheme = new URL(uri).protocol;
  } catch {
    throw new ClipnError('INPUT_INVALID', `not a URI: ${uri.slice(0, 200)}`);
  }
  if (scheme === 'http:' || scheme === 'https:') return fetchHttp(uri, options);
  if (scheme === 'file:') return readFileUri(uri, options);
  throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `URI scheme ${scheme} is not supported (http, https, file)`);
}
