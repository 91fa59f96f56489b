/**
 * A small Confluent Schema Registry client: registers a schema under a subject and looks a schema
 * up by id, through the registry's REST API with the global fetch. Answers are cached for the
 * life of the client (ids are immutable); failures are not, so the next call retries.
 */
import { ClipnError, type ErrorCode } from '../errors.js';

/** Options of {@link SchemaRegistryClient}. */
export interface RegistryClientOptions {
  /** Base URL; user:password in it become HTTP basic auth and never reach messages. */
  url: URL;
  /** Limit on each request, in milliseconds. */
  timeoutMs: number;
}

const MEDIA_TYPE = 'application/vnd.schemaregistry.v1+json';

/** Registry client with a cache per subject and schema, and per id. */
export class SchemaRegistryClient {
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly ids = new Map<string, Promise<number>>();
  private readonly schemas = new Map<number, Promise<string>>();

  constructor(private readonly options: RegistryClientOptions) {
    const base = new URL(options.url.href);
    this.headers = { accept: MEDIA_TYPE, 'content-type': MEDIA_TYPE };
    if (base.username !== '' || base.password !== '') {
      // fetch refuses URLs with credentials: they travel as a basic-auth header instead.
      const user = decodeURIComponent(base.username);
      const password = decodeURIComponent(base.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      base.username = '';
      base.password = '';
    }
    // Keep a path prefix (https://host/registry/) when resolving relative API paths.
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    base.search = '';
    base.hash = '';
    this.base = base;
  }

  /** The registry's host, for messages (no credentials). */
  get host(): string {
    return this.base.host;
  }

  /** Registers `schemaText` (Avro) under `subject`, or finds it there; returns its global id. */
  register(subject: string, schemaText: string): Promise<number> {
    const cacheKey = `${subject}\n${schemaText}`;
    return this.cached(this.ids, cacheKey, async () => {
      const body = await this.request('POST', `subjects/${encodeURIComponent(subject)}/versions`, { schema: schemaText }, `subject ${subject}`);
      const id = (body as { id?: unknown }).id;
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 0xffffffff) {
        throw new ClipnError('KAFKA_ERROR', `schema registry ${this.host}, subject ${subject}: expected an answer with an integer id, got ${JSON.stringify(body).slice(0, 120)}`);
      }
      return id;
    });
  }

  /** The Avro schema text with global id `id`. */
  schemaById(id: number): Promise<string> {
    return this.cached(this.schemas, id, async () => {
      const body = (await this.request('GET', `schemas/ids/${id}`, undefined, `schema id ${id}`)) as { schema?: unknown; schemaType?: unknown };
      if (body.schemaType !== undefined && body.schemaType !== 'AVRO') {
        throw new ClipnError('CODEC_DECODE_FAILED', `schema id ${id}: expected an AVRO schema, got ${String(body.schemaType)}`);
      }
      if (typeof body.schema !== 'string') {
        throw new ClipnError('KAFKA_ERROR', `schema registry ${this.host}, schema id ${id}: expected an answer with a schema string, got ${JSON.stringify(body).slice(0, 120)}`);
      }
      return body.schema;
    });
  }

  private cached<K, V>(cache: Map<K, Promise<V>>, key: K, load: () => Promise<V>): Promise<V> {
    let value = cache.get(key);
    if (value === undefined) {
      value = load();
      cache.set(key, value);
      // A failure is not remembered: the next record retries.
      value.catch(() => cache.delete(key));
    }
    return value;
  }

  private async request(method: 'GET' | 'POST', path: string, body: unknown, what: string): Promise<unknown> {
    const url = new URL(path, this.base);
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, {
        method,
        headers: this.headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${this.options.timeoutMs} ms` : (error as Error).message;
      throw new ClipnError('KAFKA_ERROR', `schema registry ${this.host} (${what}): unreachable: ${reason}`, { cause: error, retriable: true });
    }
    if (!response.ok) {
      const [code, retriable] = classify(response.status, method);
      throw new ClipnError(code, `schema registry ${this.host} (${what}): expected HTTP 200, got ${response.status} ${text.slice(0, 200)}`, {
        retriable,
        details: { status: response.status },
      });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new ClipnError('KAFKA_ERROR', `schema registry ${this.host} (${what}): expected a JSON answer, got ${JSON.stringify(text.slice(0, 80))}`, { cause: error });
    }
  }
}

/** The code of a registry HTTP error: an unknown id is a fingerprint miss, a refused schema an encode failure. */
function classify(status: number, method: 'GET' | 'POST'): [ErrorCode, boolean] {
  if (status === 404 && method === 'GET') return ['CODEC_UNKNOWN_FINGERPRINT', false];
  if (status === 409 || status === 422) return ['CODEC_ENCODE_FAILED', false];
  if (status === 408 || status === 429 || status >= 500) return ['KAFKA_ERROR', true];
  return ['KAFKA_ERROR', false];
}
