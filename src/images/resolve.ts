/**
 * The bytes of an image source, as untrusted input: inline bytes as they are; http(s) with a
 * time and streamed size limit, refusing addresses inside the network (loopback, link-local,
 * private, cloud metadata) unless allowed, re-checking every redirect hop; file:// only inside
 * a configured root.
 *
 * Known limit (DNS rebinding): the host is resolved and checked, then global fetch resolves it
 * again to connect. A name whose DNS answer changes between the two can still reach an internal
 * address. Pinning the connection to the checked address needs undici's Agent (a `dispatcher`
 * with a `connect.lookup`), which is not a dependency; network policy should back this check up.
 */
import { lookup } from 'node:dns/promises';
import { constants, open, realpath } from 'node:fs/promises';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClipnError } from '../errors.js';
import { redactUris, uriForLog } from '../telemetry/redact-uri.js';
import { ipLiteral, isInternalAddress } from './address.js';
import type { ImageOptions } from './options.js';

/** Where an image comes from. */
export type ImageSource = { kind: 'inline'; bytes: Uint8Array; contentType?: string } | { kind: 'uri'; uri: string };

/** An image's bytes and what its source said about their type (a hint only: decoding sniffs the bytes). */
export interface ResolvedImage {
  bytes: Buffer;
  contentType: string | null;
}

/** Options of {@link resolveImage}. */
export interface ResolveOptions {
  /** Cancels the fetch or read (shutdown, a deadline of the caller). */
  signal?: AbortSignal;
}

type SourceOptions = Pick<ImageOptions, 'maxBytes' | 'fetch' | 'fileRoot'>;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Resolves a source to bytes. Every failure is a coded {@link ClipnError}. */
export async function resolveImage(source: ImageSource, options: SourceOptions, { signal }: ResolveOptions = {}): Promise<ResolvedImage> {
  if (source.kind === 'inline') {
    if (source.bytes.byteLength > options.maxBytes) throw tooLarge('inline image', source.bytes.byteLength, options.maxBytes);
    return { bytes: Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength), contentType: source.contentType ?? null };
  }
  return resolveUriSource(source.uri, options, signal);
}

async function resolveUriSource(uri: string, options: SourceOptions, signal: AbortSignal | undefined): Promise<ResolvedImage> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new ClipnError('INPUT_INVALID', `expected an absolute URI (https://, http://, file://), got ${JSON.stringify(uriForLog(uri.slice(0, 200)))}`);
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') return fetchHttp(url, options, signal);
  if (url.protocol === 'file:') return { bytes: await readFileUri(url, options, signal), contentType: null };
  throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `URI scheme ${url.protocol.replace(':', '')} is not supported: expected http, https or file`, { details: { scheme: url.protocol } });
}

function tooLarge(what: string, got: number | null, limit: number): ClipnError {
  const shown = got === null ? `more than ${limit}` : String(got);
  return new ClipnError('IMAGE_TOO_MANY_BYTES', `${what}: ${shown} bytes, the limit is ${limit}`, { details: { limit, got } });
}

/** Settles with `promise`, or rejects as soon as `signal` aborts (for work that takes no signal). */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Refuses a host that is, or resolves to, an internal address; every address of the name is checked. */
async function checkHost(hostname: string, allowPrivate: boolean, signal: AbortSignal): Promise<void> {
  if (allowPrivate) return;
  const literal = ipLiteral(hostname);
  const addresses = literal !== null
    ? [literal]
    : (await raceAbort(lookup(hostname, { all: true, verbatim: true }), signal).catch((e: unknown) => {
        if (signal.aborted) throw e;
        throw new ClipnError('IMAGE_FETCH_FAILED', `cannot resolve host ${hostname}: ${(e as Error).message}`, { cause: e, details: { host: hostname } });
      })).map((a) => a.address);
  const internal = addresses.filter(isInternalAddress);
  if (internal.length > 0 || addresses.length === 0) {
    throw new ClipnError(
      'IMAGE_SOURCE_FORBIDDEN',
      `${hostname} resolves to an internal address (${internal.join(', ') || 'none'}): expected public addresses only (set images.fetch.allowPrivateNetworks to allow)`,
      { details: { host: hostname, addresses, internal } },
    );
  }
}

/** Reads a body, stopping as soon as it passes `maxBytes` (a missing or false Content-Length does not matter). */
async function readCapped(res: Response, maxBytes: number, where: string): Promise<Buffer> {
  const declared = res.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(`${where} (Content-Length)`, Number(declared), maxBytes);
  }
  // With a declared length the body is copied once into its final buffer (no chunk list to
  // concatenate: half the peak memory of a large body). A body longer than declared still stops
  // at the limit.
  const size = declared !== null && Number.isSafeInteger(Number(declared)) ? Number(declared) : null;
  let out = size === null ? null : Buffer.allocUnsafe(size);
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body) {
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (total + value.byteLength > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(where, null, maxBytes);
      }
      if (out !== null && total + value.byteLength > out.length) {
        // Longer than declared: keep what came so far and collect the rest as chunks.
        chunks.push(out.subarray(0, total));
        out = null;
      }
      if (out !== null) out.set(value, total);
      else chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      total += value.byteLength;
    }
  }
  if (out !== null) return out.subarray(0, total);
  return Buffer.concat(chunks, total);
}

async function fetchHttp(start: URL, options: SourceOptions, callerSignal: AbortSignal | undefined): Promise<ResolvedImage> {
  const f = options.fetch;
  const timeout = AbortSignal.timeout(f.timeoutMs);
  const signal = callerSignal ? AbortSignal.any([timeout, callerSignal]) : timeout;
  const limit = Math.min(f.maxBytes, options.maxBytes);
  let url = start;
  try {
    for (let hop = 0; ; hop++) {
      const scheme = url.protocol.slice(0, -1);
      if (!(f.allowedSchemes as readonly string[]).includes(scheme)) {
        throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${uriForLog(url)}: scheme ${scheme} is not allowed: expected one of ${f.allowedSchemes.join(', ')}`, { details: { scheme, hop } });
      }
      if (url.username || url.password) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${url.origin}: URLs with credentials are refused`, { details: { hop } });
      await checkHost(url.hostname, f.allowPrivateNetworks, signal);
      const res = await fetch(url, { redirect: 'manual', signal });
      const location = res.headers.get('location');
      if (REDIRECTS.has(res.status) && location !== null) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= f.maxRedirects) {
          throw new ClipnError('IMAGE_FETCH_FAILED', `${uriForLog(start)}: more than ${f.maxRedirects} redirects (images.fetch.maxRedirects)`, { retriable: false, details: { limit: f.maxRedirects } });
        }
        url = new URL(location, url);
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new ClipnError('IMAGE_FETCH_FAILED', `${uriForLog(url)}: expected HTTP 200, got ${res.status}`, {
          retriable: res.status >= 500 || res.status === 429 || res.status === 408,
          details: { status: res.status, hop },
        });
      }
      return { bytes: await readCapped(res, limit, uriForLog(url)), contentType: res.headers.get('content-type') };
    }
  } catch (error) {
    if (error instanceof ClipnError) throw error;
    if (timeout.aborted) {
      throw new ClipnError('IMAGE_FETCH_TIMEOUT', `${uriForLog(start)}: no complete answer within ${f.timeoutMs} ms (images.fetch.timeoutMs)`, { cause: error, details: { limit: f.timeoutMs } });
    }
    if (callerSignal?.aborted) throw new ClipnError('IMAGE_FETCH_FAILED', `${uriForLog(start)}: fetch cancelled`, { cause: error, details: { cancelled: true } });
    const cause = (error as Error & { cause?: Error }).cause;
    throw new ClipnError('IMAGE_FETCH_FAILED', `${uriForLog(url)}: ${redactUris((error as Error).message)}${cause ? ` (${redactUris(cause.message)})` : ''}`, { cause: error });
  }
}

async function readFileUri(url: URL, options: SourceOptions, signal: AbortSignal | undefined): Promise<Buffer> {
  if (options.fileRoot === null) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${uriForLog(url)}: file:// URIs are refused: images.fileRoot is not set`);
  let path: string;
  try {
    path = fileURLToPath(url);
  } catch (e) {
    throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${uriForLog(url)}: expected a local file URI, got ${(e as Error).message}`, { cause: e });
  }
  const root = await realpath(options.fileRoot).catch((e: Error) => {
    throw new ClipnError('IMAGE_NOT_FOUND', `images.fileRoot ${options.fileRoot} does not exist: ${e.message}`, { cause: e });
  });
  const real = await realpath(path).catch((e: NodeJS.ErrnoException) => {
    throw new ClipnError(e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 'IMAGE_NOT_FOUND' : 'IMAGE_FETCH_FAILED', `${uriForLog(url)}: ${e.message}`, { cause: e });
  });
  // realpath resolves every symlink, so a link pointing out of the root is caught here.
  if (real !== root && !real.startsWith(root.endsWith(sep) ? root : root + sep)) {
    throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${uriForLog(url)} is outside images.fileRoot ${options.fileRoot}`, { details: { root, path: real } });
  }
  // O_NOFOLLOW: a last component swapped for a symlink after the check is refused, not followed.
  const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: NodeJS.ErrnoException) => {
    throw new ClipnError(e.code === 'ENOENT' ? 'IMAGE_NOT_FOUND' : e.code === 'ELOOP' ? 'IMAGE_SOURCE_FORBIDDEN' : 'IMAGE_FETCH_FAILED', `${uriForLog(url)}: ${e.message}`, { cause: e });
  });
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new ClipnError('IMAGE_SOURCE_FORBIDDEN', `${uriForLog(url)}: expected a regular file`, { details: { path: real } });
    if (stat.size > options.maxBytes) throw tooLarge(uriForLog(url), stat.size, options.maxBytes);
    const bytes = await handle.readFile({ signal });
    // The file may have grown since the stat.
    if (bytes.length > options.maxBytes) throw tooLarge(uriForLog(url), bytes.length, options.maxBytes);
    return bytes;
  } catch (e) {
    if (e instanceof ClipnError) throw e;
    throw new ClipnError('IMAGE_FETCH_FAILED', `${uriForLog(url)}: ${(e as Error).message}`, { cause: e });
  } finally {
    await handle.close();
  }
}
