/** Secrets out of the configuration: a copy safe to log, and the strings a log scrubber removes. */
import type { Config } from './types.js';

/** What replaces a secret. */
export const REDACTED = '[redacted]';

const SECRET_KEY = /password|secret|token|signingKey/i;
const SECRET_QUERY = /token|secret|signature|sig|password|key|credential/i;

/** The URL in `value` when it has credentials or secret query parameters. */
function urlWithSecrets(value: string): URL | null {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return null;
  try {
    const url = new URL(value);
    const query = [...url.searchParams.keys()].some((k) => SECRET_QUERY.test(k));
    return url.username !== '' || url.password !== '' || query ? url : null;
  } catch {
    return null;
  }
}

function redactUrl(value: string): string {
  const url = urlWithSecrets(value);
  if (url === null) return value;
  if (url.username !== '' || url.password !== '') {
    url.username = REDACTED;
    url.password = '';
  }
  for (const key of [...url.searchParams.keys()]) if (SECRET_QUERY.test(key)) url.searchParams.set(key, REDACTED);
  return url.href.replaceAll(encodeURIComponent(REDACTED), REDACTED);
}

/**
 * A copy of the configuration safe to log: the SASL password (and any setting named like a
 * password, secret or token) and credentials or secret query parameters in URLs become
 * "[redacted]". The copy has the configuration's shape.
 */
export function redactConfig(config: Config): Config {
  const scrub = (value: unknown, key: string): unknown => {
    if (typeof value === 'string') return SECRET_KEY.test(key) ? REDACTED : redactUrl(value);
    if (Array.isArray(value)) return value.map((v) => scrub(v, key));
    if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, k)]));
    return value;
  };
  return scrub(config, '') as Config;
}

/** Every secret string in the configuration, for a log scrubber that also catches them in free text. */
export function secretsOf(config: Config): string[] {
  const secrets = new Set<string>();
  const visit = (value: unknown, key: string): void => {
    if (typeof value === 'string') {
      if (SECRET_KEY.test(key) && value !== '') secrets.add(value);
      const url = urlWithSecrets(value);
      if (url !== null) {
        if (url.password !== '') secrets.add(url.password).add(decodeURIComponent(url.password));
        for (const [k, v] of url.searchParams) if (SECRET_QUERY.test(k) && v !== '') secrets.add(v);
      }
    } else if (Array.isArray(value)) value.forEach((v) => visit(v, key));
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) visit(v, k);
  };
  visit(config, '');
  return [...secrets];
}
