/**
 * Confluent Schema Registry wire format: magic byte 0, a 4-byte big-endian schema id, the Avro
 * body. Schemas are registered under the record-name subject (io.clipn.v1.<Record>) and ids
 * resolved through the registry's REST API, cached for the life of the process.
 */
import { ClipnError } from '../errors.js';
import { invalidPaths, type RecordName, type SchemaRegistry } from './registry.js';

const NAMESPACE = 'io.clipn.v1';

export function isConfluentFramed(bytes: Uint8Array): boolean {
  return bytes.length >= 5 && bytes[0] === 0;
}

export class ConfluentCodec {
  private readonly idsByName = new Map<RecordName, Promise<number>>();
  private readonly namesById = new Map<number, Promise<RecordName>>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly baseUrl: string,
    private readonly timeoutMs = 5000,
  ) {}

  async encode(name: RecordName, value: unknown): Promise<Buffer> {
    const entry = this.registry.get(name);
    const problems = invalidPaths(entry.type, value);
    if (problems.length > 0) throw new ClipnError('CODEC_ENCODE_FAILED', `${name}: ${problems.join('; ')}`, { details: { record: name, problems } });
    const id = await this.idFor(name);
    const header = Buffer.alloc(5);
    header.writeUInt32BE(id, 1);
    return Buffer.concat([header, entry.type.toBuffer(value)]);
  }

  async decode(bytes: Uint8Array, expected?: RecordName): Promise<{ name: RecordName; value: unknown }> {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!isConfluentFramed(buf)) throw new ClipnError('CODEC_DECODE_FAILED', `not registry-framed Avro: expected magic byte 0 and 5 bytes at least, got ${buf.length} bytes`);
    const id = buf.readUInt32BE(1);
    const name = await this.nameFor(id);
    if (expected !== undefined && name !== expected) throw new ClipnError('CODEC_DECODE_FAILED', `expected a ${expected} record, got a ${name} (schema id ${id})`);
    try {
      return { name, value: this.registry.get(name).type.fromBuffer(buf.subarray(5)) };
    } catch (error) {
      throw new ClipnError('CODEC_DECODE_FAILED', `${name}: body does not decode: ${(error as Error).message}`, { cause: error });
    }
  }

  private idFor(name: RecordName): Promise<number> {
    let id = this.idsByName.get(name);
    if (id === undefined) {
      id = this.request(`/subjects/${encodeURIComponent(`${NAMESPACE}.${name}`)}/versions`, { schema: this.registry.get(name).schemaText }).then((r) => Number((r as { id: number }).id));
      // A failed registration is retried on the next record rather than cached.
      id.catch(() => this.idsByName.delete(name));
      this.idsByName.set(name, id);
    }
    return id;
  }

  private nameFor(id: number): Promise<RecordName> {
    let name = this.namesById.get(id);
    if (name === undefined) {
      name = this.request(`/schemas/ids/${id}`).then((r) => {
        const schema = JSON.parse((r as { schema: string }).schema) as { name?: string; namespace?: string };
        const short = (schema.name ?? '').split('.').pop() as RecordName;
        const entry = this.registry.entries().find((e) => e.name === short);
        if (entry === undefined) throw new ClipnError('CODEC_UNKNOWN_FINGERPRINT', `schema id ${id} is ${schema.name ?? 'unnamed'}, not a record this service knows`);
        return entry.name;
      });
      name.catch(() => this.namesById.delete(id));
      this.namesById.set(id, name);
    }
    return name;
  }

  private async request(path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.baseUrl);
    let res: Response;
    try {
      res = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/vnd.schemaregistry.v1+json', accept: 'application/vnd.schemaregistry.v1+json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new ClipnError('KAFKA_ERROR', `schema registry ${url.host} unreachable: ${(error as Error).message}`, { cause: error, retriable: true });
    }
    const text = await res.text();
    if (!res.ok) {
      const code = res.status === 404 ? 'CODEC_UNKNOWN_FINGERPRINT' : 'KAFKA_ERROR';
      throw new ClipnError(code, `schema registry ${url.pathname}: HTTP ${res.status} ${text.slice(0, 200)}`, { retriable: res.status >= 500 });
    }
    return JSON.parse(text) as unknown;
  }
}
