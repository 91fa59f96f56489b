/**
 * Avro binary encoding written from the specification's rules, independently of avsc, for tests
 * that hand-build bodies: zig-zag varints, length-prefixed strings and bytes, and arrays and maps
 * in blocks of a chosen size, optionally with negative counts followed by the block's byte size
 * (which avsc reads but never writes).
 */
import type avro from 'avsc';

/** A long (or int) as a zig-zag varint. */
export function zigzag(value: bigint | number): number[] {
  const n = BigInt(value);
  let raw = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  do {
    let byte = Number(raw & 0x7fn);
    raw >>= 7n;
    if (raw !== 0n) byte |= 0x80;
    out.push(byte);
  } while (raw !== 0n);
  return out;
}

/** A string (UTF-8) or bytes: the length, then the data. */
export function lengthPrefixed(data: string | Uint8Array): number[] {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return [...zigzag(bytes.length), ...bytes];
}

/** Concatenates numbers, arrays of numbers and byte arrays. */
export function bytesOf(...parts: (number | readonly number[] | Uint8Array)[]): Buffer {
  return Buffer.from(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...p])));
}

/** How arrays and maps are cut into blocks. */
export interface BlockStyle {
  /** Items per block (the last one may hold fewer). */
  itemsPerBlock: number;
  /** Negative counts, each followed by the block's byte size. */
  negative: boolean;
}

const ONE_BLOCK: BlockStyle = { itemsPerBlock: Infinity, negative: false };

/** Encodes a valid `value` of `type` (values as avsc takes them: wrapped unions keyed by branch name). */
export function encodeBySpec(type: avro.Type, value: unknown, style: BlockStyle = ONE_BLOCK): Buffer {
  return Buffer.from(encode(type, value, style));
}

function encode(type: avro.Type, value: unknown, style: BlockStyle): number[] {
  switch (type.typeName) {
    case 'null':
      return [];
    case 'boolean':
      return [value ? 1 : 0];
    case 'int':
    case 'long':
      return zigzag(value as number);
    case 'float':
    case 'double': {
      const buf = Buffer.alloc(type.typeName === 'float' ? 4 : 8);
      if (type.typeName === 'float') buf.writeFloatLE(value as number);
      else buf.writeDoubleLE(value as number);
      return [...buf];
    }
    case 'bytes':
    case 'string':
      return lengthPrefixed(value as string | Buffer);
    case 'fixed':
      return [...(value as Buffer)];
    case 'enum':
      return zigzag((type as avro.types.EnumType).symbols.indexOf(value as string));
    case 'array': {
      const items = (type as avro.types.ArrayType).itemsType;
      return blocks((value as unknown[]).map((v) => encode(items, v, style)), style);
    }
    case 'map': {
      const values = (type as avro.types.MapType).valuesType as avro.Type;
      return blocks(Object.entries(value as Record<string, unknown>).map(([k, v]) => [...lengthPrefixed(k), ...encode(values, v, style)]), style);
    }
    case 'record':
      return (type as avro.types.RecordType).fields.flatMap((f) => encode(f.type, (value as Record<string, unknown>)[f.name], style));
    case 'union:unwrapped': {
      const branches = (type as avro.types.UnwrappedUnionType).types;
      const index = branches.findIndex((b) => b.isValid(value));
      return [...zigzag(index), ...encode(branches[index]!, value, style)];
    }
    case 'union:wrapped': {
      const branches = (type as avro.types.WrappedUnionType).types;
      if (value === null) return zigzag(branches.findIndex((b) => b.typeName === 'null'));
      const [key, inner] = Object.entries(value as Record<string, unknown>)[0]!;
      const index = branches.findIndex((b) => b.branchName === key);
      return [...zigzag(index), ...encode(branches[index]!, inner, style)];
    }
    default:
      throw new Error(`encodeBySpec: type ${type.typeName} not supported`);
  }
}

function blocks(items: number[][], style: BlockStyle): number[] {
  const out: number[] = [];
  for (let i = 0; i < items.length; i += style.itemsPerBlock) {
    const block = items.slice(i, i + style.itemsPerBlock);
    const data = block.flat();
    if (style.negative) out.push(...zigzag(-block.length), ...zigzag(data.length), ...data);
    else out.push(...zigzag(block.length), ...data);
  }
  out.push(0);
  return out;
}

/**
 * The value with the shortest encoding of a type that has a finite one: null in unions that allow
 * it, empty strings, bytes, arrays and maps, zeros, the first enum symbol or union branch.
 * Tests build bodies around one field from it, so they follow the schemas as they change.
 */
export function minimalValue(type: avro.Type): unknown {
  const t = type as unknown as { typeName: string; types?: avro.Type[]; fields?: Array<{ name: string; type: avro.Type }>; symbols?: string[]; size?: number };
  switch (t.typeName) {
    case 'null':
      return null;
    case 'boolean':
      return false;
    case 'int':
    case 'long':
    case 'float':
    case 'double':
      return 0;
    case 'string':
      return '';
    case 'bytes':
      return Buffer.alloc(0);
    case 'fixed':
      return Buffer.alloc(t.size ?? 0);
    case 'enum':
      return t.symbols![0];
    case 'array':
      return [];
    case 'map':
      return {};
    case 'record':
    case 'error':
      return Object.fromEntries(t.fields!.map((f) => [f.name, minimalValue(f.type)]));
    default: {
      // unions: null when allowed (avsc's unwrapped form), else the first branch.
      const branches = t.types ?? [];
      return branches.some((b) => (b as unknown as { typeName: string }).typeName === 'null') ? null : minimalValue(branches[0]!);
    }
  }
}

/** The encodings of a record's fields (each from `values`, else its minimal value), by name and in order. */
export function fieldBytes(type: avro.Type, values: Record<string, unknown> = {}): Array<{ name: string; bytes: Buffer }> {
  const fields = (type as unknown as { fields: Array<{ name: string; type: avro.Type }> }).fields;
  return fields.map((f) => ({ name: f.name, bytes: encodeBySpec(f.type, f.name in values ? values[f.name] : minimalValue(f.type)) }));
}
