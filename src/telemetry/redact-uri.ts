/**
 * URLs as logs and dead letters may show them: scheme, host and path only. A pre-signed URL's
 * query string is its credential (X-Amz-Signature, sig=, token=), and userinfo is one too.
 */

/** Scheme, host (with port) and path of a URI; no userinfo, query or fragment. */
export function uriForLog(uri: string | URL): string {
  let url: URL;
  try {
    url = typeof uri === 'string' ? new URL(uri) : uri;
  } catch {
    // Not a URL: cut at the first query or fragment mark and drop anything like userinfo.
    return redactUris(String(uri).split(/[?#]/, 1)[0]!.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1'));
  }
  return url.host === '' && url.protocol !== 'file:' ? `${url.protocol}${url.pathname}` : `${url.protocol}//${url.host}${url.pathname}`;
}

// scheme://, then up to the first space, quote or angle bracket (the end of a URL in a message or a JSON string).
const URL_IN_TEXT = /\b[a-z][a-z0-9+._-]*:\/\/[^\s"'<>\\]*/gi;

/** `text` with every URL in it cut to scheme, host and path (see {@link uriForLog}). */
export function redactUris(text: string): string {
  return text.replace(URL_IN_TEXT, (match) => {
    if (!/[?#@]/.test(match)) return match;
    const cut = match.replace(/^([a-z][a-z0-9+._-]*:\/\/)[^/?#]*@/i, '$1');
    const end = cut.search(/[?#]/);
    return end < 0 ? cut : cut.slice(0, end);
  });
}
