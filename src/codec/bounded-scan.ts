/**
 * A bounded pre-scan of an Avro binary body, run before avsc decodes it. avsc trusts the block
 * counts of arrays and maps (a count of 2^60 loops for ever, 2^32-1 strings exhaust the heap), so
 * every body is first walked against the writer's schema exactly as the Avro specification's
 * binary encoding defines it, refusing any length, count or index the remaining bytes cannot
 * hold before anything is allocated or looped. The walk builds no values and costs O(bytes):
 * every item it visits takes at least one byte, and items that take none (null, fixed of size 0,
 * records of only those) are counted against limits, never walked.
 */
import type avro from 'avsc';
import { ClipnError } from '../errors.js';
import type { DecodeLimits } from './options.js';

const NULL = 0;
const BOOLEAN = 1;
const INT = 2;
const LONG = 3;
const FLOAT = 4;
const DOUBLE = 5;
const BYTES = 6;
const STRING = 7;
const FIXED = 8;
const ENUM = 9;
const ARRAY = 10;
const MAP = 11;
const RECORD = 12;
const UNION = 13;

const KINDS: Readonly<Record<string, number>> = {
  null: NULL, boolean: BOOLEAN, int: INT, long: LONG, float: FLOAT, double: DOUBLE, bytes: BYTES, string: STRING,
  fixed: FIXED, enum: ENUM, array: ARRAY, map: MAP, record: RECORD, error: RECORD, 'union:unwrapped': UNION, 'union:wrapped': UNION,
};

/** Encoded size of the fixed-size primitives; the others' minimum (a varint takes one byte at least). */
const PRIMITIVE_MIN: Readonly<Record<number, number>> = { [NULL]: 0, [BOOLEAN]: 1, [INT]: 1, [LONG]: 1, [FLOAT]: 4, [DOUBLE]: 8, [BYTES]: 1, [STRING]: 1, [ENUM]: 1, [ARRAY]: 1, [MAP]: 1 };

/** One type of the schema, flattened for the walk (every node has the same shape). */
interface ScanNode {
  kind: number;
  /** Short name of a named type, else the type name: for messages. */
  name: string;
  /** Fewest bytes any value of the type encodes in; Infinity when none is finite (a record that always contains itself). */
  min: number;
  /** Bytes every value of the type takes when that is constant (float, double, fixed, records of those), else -1. */
  width: number;
  /** Fixed: its size. Enum: its symbol count. Union: its branch count. */
  size: number;
  /** Record: its field names, parallel to `children`. */
  fields: string[];
  /** Record: field types; union: branches; array: the items; map: the values. */
  children: ScanNode[];
}

/** A schema compiled once for {@link scanAvroBody}: its types and each type's minimum encoded size. */
export interface ScanPlan {
  /** Short name of the top type: the first part of every path in messages. */
  readonly name: string;
  readonly root: ScanNode;
}

/** Compiles an avsc type (logical types are read as their underlying type). */
export function compileScanPlan(type: avro.Type): ScanPlan {
  const nodes = new Map<avro.Type, ScanNode>();
  const build = (t: avro.Type): ScanNode => {
    const known = nodes.get(t);
    if (known !== undefined) return known;
    if (t.typeName.startsWith('logical:')) return build((t as avro.types.LogicalType).underlyingType);
    const kind = KINDS[t.typeName];
    if (kind === undefined) throw new ClipnError('CODEC_DECODE_FAILED', `schema: expected an Avro type, got type name ${t.typeName}`);
    const node: ScanNode = { kind, name: shortName(t), min: PRIMITIVE_MIN[kind] ?? Infinity, width: -1, size: 0, fields: [], children: [] };
    // Registered before its children so that a recursive reference finds it.
    nodes.set(t, node);
    if (kind === FIXED) node.min = node.size = (t as avro.types.FixedType).size;
    else if (kind === ENUM) node.size = (t as avro.types.EnumType).symbols.length;
    else if (kind === ARRAY) node.children.push(build((t as avro.types.ArrayType).itemsType));
    else if (kind === MAP) node.children.push(build((t as avro.types.MapType).valuesType as avro.Type));
    else if (kind === UNION) {
      for (const branch of (t as avro.types.UnwrappedUnionType).types) node.children.push(build(branch));
      node.size = node.children.length;
    } else if (kind === RECORD) {
      for (const field of (t as avro.types.RecordType).fields) {
        node.fields.push(field.name);
        node.children.push(build(field.type));
      }
    }
    return node;
  };
  const root = build(type);
  const all = [...new Set(nodes.values())];
  settleMinima(all);
  const visiting = new Set<ScanNode>();
  for (const node of all) widthOf(node, visiting);
  return { name: root.name, root };
}

/** Sets `width`: an array of such items is checked and skipped as a whole, not item by item. */
function widthOf(node: ScanNode, visiting: Set<ScanNode>): number {
  if (node.width >= 0 || visiting.has(node)) return node.width;
  if (node.kind === FLOAT || node.kind === DOUBLE || node.kind === FIXED || node.kind === NULL) node.width = node.min;
  else if (node.kind === RECORD && node.min !== Infinity) {
    visiting.add(node);
    const widths = node.children.map((child) => widthOf(child, visiting));
    visiting.delete(node);
    if (widths.every((w) => w >= 0)) node.width = node.min;
  }
  return node.width;
}

function shortName(t: avro.Type): string {
  const name = t.name ?? t.typeName;
  return name.slice(name.lastIndexOf('.') + 1);
}

/**
 * Minimum sizes of records and unions, which may refer to each other (and to themselves): start
 * from Infinity and lower until nothing changes. A smallest value's derivation never repeats a
 * type along a path, so as many passes as types settle every one.
 */
function settleMinima(nodes: ScanNode[]): void {
  for (let pass = 0; pass <= nodes.length; pass++) {
    let changed = false;
    for (const node of nodes) {
      let min = node.min;
      if (node.kind === RECORD) min = node.children.reduce((sum, child) => sum + child.min, 0);
      else if (node.kind === UNION) min = 1 + Math.min(...node.children.map((child) => child.min));
      if (min < node.min) {
        node.min = min;
        changed = true;
      }
    }
    if (!changed) return;
  }
}

/** Thrown inside the walk (no stack trace); containers add their path segment as it unwinds. */
class ScanFault {
  readonly segments: string[] = [];
  constructor(
    readonly problem: string,
    readonly offset: number,
  ) {}
}

/**
 * Walks the Avro body `bytes[start..]` against `plan` and throws CODEC_DECODE_FAILED, naming the
 * field path and byte offset (counted from the start of `bytes`), unless it is one well-formed
 * value of the plan's type that ends exactly at the end of `bytes` and stays within `limits`.
 * `where` is appended to messages (for example " (schema id 7)").
 */
export function scanAvroBody(plan: ScanPlan, bytes: Uint8Array, start: number, limits: DecodeLimits, where = ''): void {
  const walker = new Walker(bytes, start, limits);
  try {
    walker.value(plan.root, 0);
    if (walker.pos !== bytes.length) {
      const trailing = bytes.length - walker.pos;
      throw new ScanFault(`expected the record to end the input, got ${trailing} trailing byte${trailing === 1 ? '' : 's'}`, walker.pos);
    }
  } catch (error) {
    if (!(error instanceof ScanFault)) throw error;
    const path = plan.name + error.segments.reverse().join('');
    throw new ClipnError('CODEC_DECODE_FAILED', `${path}: ${error.problem} at offset ${error.offset}${where}`, {
      details: { path, offset: error.offset, bytes: bytes.length },
    });
  }
}

class Walker {
  pos: number;
  private readonly end: number;
  /** Zero-byte items seen in the whole record. */
  private zeroByteItems = 0;

  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly limits: DecodeLimits,
  ) {
    this.pos = start;
    this.end = buf.length;
  }

  value(node: ScanNode, depth: number): void {
    switch (node.kind) {
      case NULL:
        return;
      case BOOLEAN: {
        if (this.pos >= this.end) throw new ScanFault('expected a boolean byte, got the end of the input', this.pos);
        const byte = this.buf[this.pos]!;
        if (byte > 1) throw new ScanFault(`expected a boolean byte 0 or 1, got ${byte}`, this.pos);
        this.pos++;
        return;
      }
      case INT:
        this.varint(5, 'an int');
        return;
      case LONG:
        this.varint(10, 'a long');
        return;
      case FLOAT:
      case DOUBLE:
      case FIXED: {
        const left = this.end - this.pos;
        if (node.min > left) throw new ScanFault(`${node.kind === FIXED ? `fixed ${node.name}` : node.name} needs ${node.min} bytes, ${left} left`, this.pos);
        this.pos += node.min;
        return;
      }
      case BYTES:
      case STRING: {
        const at = this.pos;
        const length = this.varint(10, node.kind === BYTES ? 'a bytes length' : 'a string length');
        const left = this.end - this.pos;
        if (length < 0 || length > left) {
          const got = this.exact(at);
          throw new ScanFault(length < 0 ? `expected a ${node.name} length >= 0, got ${got}` : `${node.name} length ${got} needs ${got} bytes, ${left} left`, at);
        }
        this.pos += length;
        return;
      }
      case ENUM:
      case UNION: {
        const at = this.pos;
        const index = this.varint(5, node.kind === ENUM ? 'an enum index' : 'a union branch index');
        if (index < 0 || index >= node.size) {
          const what = node.kind === ENUM ? `an enum index of ${node.name} in 0..${node.size - 1}` : `a union branch index in 0..${node.size - 1}`;
          throw new ScanFault(`expected ${what}, got ${index}`, at);
        }
        if (node.kind === UNION) this.value(node.children[index]!, depth);
        return;
      }
      case RECORD:
        this.record(node, depth + 1);
        return;
      default:
        this.blocks(node, depth + 1);
    }
  }

  private enter(depth: number): void {
    if (depth > this.limits.maxNestingDepth) {
      throw new ScanFault(`expected nesting at most ${this.limits.maxNestingDepth} deep (maxNestingDepth), got ${depth}`, this.pos);
    }
  }

  private record(node: ScanNode, depth: number): void {
    this.enter(depth);
    const left = this.end - this.pos;
    if (node.min > left) {
      const problem = node.min === Infinity ? `record ${node.name} has no finite encoding (it always contains itself)` : `record ${node.name} needs at least ${node.min} bytes, ${left} left`;
      throw new ScanFault(problem, this.pos);
    }
    if (node.min === 0) return; // only nulls and empty fixed inside: nothing to read
    let field = 0;
    try {
      for (; field < node.children.length; field++) this.value(node.children[field]!, depth);
    } catch (error) {
      if (error instanceof ScanFault) error.segments.push(`.${node.fields[field]!}`);
      throw error;
    }
  }

  /** An array's or a map's series of blocks. */
  private blocks(node: ScanNode, depth: number): void {
    this.enter(depth);
    const isMap = node.kind === MAP;
    const item = node.children[0]!;
    const itemMin = isMap ? 1 + item.min : item.min;
    const noun = isMap ? 'entry' : 'item';
    const nouns = isMap ? 'entries' : 'items';
    let count = 0; // items of the collection so far
    let inItem = -1; // the item being walked, for the path; -1 between items
    let keyAt = -1; // where the current map entry's key starts; -1 while reading it
    try {
      for (;;) {
        const countAt = this.pos;
        let n = this.varint(10, 'a block count');
        if (n === 0) return;
        let blockEnd = -1;
        if (n < 0) {
          // A negative count is followed by the block's size in bytes.
          n = -n;
          const sizeAt = this.pos;
          const size = this.varint(10, 'a block byte size');
          const left = this.end - this.pos;
          if (size < n * itemMin || size > left) {
            const items = this.magnitude(countAt);
            throw new ScanFault(`block of ${items} ${nouns}: expected a byte size in ${times(items, itemMin)}..${left}, got ${this.exact(sizeAt)}`, sizeAt);
          }
          blockEnd = this.pos + size;
        }
        const left = this.end - this.pos;
        if (n * itemMin > left) {
          const items = this.magnitude(countAt);
          throw new ScanFault(`block count ${items} needs at least ${times(items, itemMin)} bytes (${itemMin} per ${noun}), ${left} left`, countAt);
        }
        if (itemMin === 0) {
          // Zero-byte items: counted, never walked (reading one moves nothing); only the limits bound them.
          if (count + n > this.limits.maxZeroByteItems) {
            const got = count === 0 ? this.magnitude(countAt) : `${count} and a block of ${this.magnitude(countAt)} more`;
            throw new ScanFault(`expected at most ${this.limits.maxZeroByteItems} zero-byte items in one array (maxZeroByteItems), got ${got}`, countAt);
          }
          this.zeroByteItems += n;
          if (this.zeroByteItems > this.limits.maxZeroByteItemsPerRecord) {
            throw new ScanFault(`expected at most ${this.limits.maxZeroByteItemsPerRecord} zero-byte items in the record (maxZeroByteItemsPerRecord), got ${this.zeroByteItems}`, countAt);
          }
          count += n;
        } else if (item.width > 0 && !isMap) {
          // Items of one constant size (floats, doubles, fixed): the check above covered them all.
          this.pos += n * item.width;
          count += n;
        } else {
          for (const last = count + n; count < last; count++) {
            inItem = count;
            if (isMap) {
              keyAt = -1;
              const at = this.pos;
              this.value(STRING_NODE, depth);
              keyAt = at;
            }
            this.value(item, depth);
          }
          inItem = -1;
        }
        if (blockEnd >= 0 && this.pos !== blockEnd) {
          throw new ScanFault(`block of ${n} ${nouns}: expected them to end where its byte size says, at offset ${blockEnd}, got their end at offset ${this.pos}`, this.pos);
        }
      }
    } catch (error) {
      if (error instanceof ScanFault && inItem >= 0) error.segments.push(isMap ? (keyAt >= 0 ? `[${this.keyText(keyAt)}]` : `[key of entry ${inItem}]`) : `[${inItem}]`);
      throw error;
    }
  }

  /**
   * A zig-zag varint of at most `maxBytes` bytes (5: int, 10: long) in range. Values beyond 2^53
   * come back rounded, which is exact enough to compare with the bytes left; messages re-read
   * them exactly.
   */
  private varint(maxBytes: 5 | 10, what: string): number {
    const buf = this.buf;
    const start = this.pos;
    const stop = Math.min(this.end, start + maxBytes);
    let pos = start;
    let value = 0;
    let scale = 1;
    let byte: number;
    do {
      if (pos - start === maxBytes) throw new ScanFault(`expected ${what} as a varint of at most ${maxBytes} bytes, got more`, start);
      if (pos === stop) throw new ScanFault(`expected ${what} (varint), got the end of the input`, start);
      byte = buf[pos++]!;
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    // The last of 5 bytes carries bits 28..31 of an int, the last of 10 bit 63 of a long.
    if (pos - start === maxBytes && byte > (maxBytes === 5 ? 0x0f : 0x01)) {
      throw new ScanFault(`expected ${what} within ${maxBytes === 5 ? 32 : 64} bits, got a varint of ${maxBytes} bytes ending in 0x${byte.toString(16)}`, start);
    }
    this.pos = pos;
    return buf[start]! & 1 ? -(value + 1) / 2 : value / 2;
  }

  /** The varint at `at`, exactly (it was read once already): for messages only. */
  private exact(at: number): string {
    let raw = 0n;
    let shift = 0n;
    for (let pos = at; ; pos++, shift += 7n) {
      const byte = this.buf[pos]!;
      raw |= BigInt(byte & 0x7f) << shift;
      if (!(byte & 0x80)) break;
    }
    return String(raw & 1n ? -((raw + 1n) >> 1n) : raw >> 1n);
  }

  /** The block count at `at` without its sign, exactly: for messages only. */
  private magnitude(at: number): bigint {
    const count = BigInt(this.exact(at));
    return count < 0n ? -count : count;
  }

  /** A map key (already validated) as JSON, cut short: for messages only. */
  private keyText(at: number): string {
    const saved = this.pos;
    this.pos = at;
    const length = this.varint(10, 'a string length');
    const key = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, length).toString('utf8');
    this.pos = saved;
    return JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}...` : key);
  }
}

/** `count * per` for messages; Infinity when an item can never be encoded. */
function times(count: bigint, per: number): string {
  return per === Infinity ? 'Infinity' : String(count * BigInt(per));
}

/** Map keys are strings. */
const STRING_NODE: ScanNode = { kind: STRING, name: 'string', min: 1, width: -1, size: 0, fields: [], children: [] };
