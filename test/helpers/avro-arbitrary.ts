/**
 * fast-check arbitraries of valid values of an avsc type (as avsc takes them: wrapped unions keyed
 * by branch name), so that random records are reproducible from a seed (avsc's own
 * `type.random()` draws from a generator seeded by Math.random). Collections and strings are kept
 * short; recursive types are not supported (the record schemas have none).
 */
import fc from 'fast-check';
import type avro from 'avsc';

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };

/** Valid values of `type`. */
export function arbitraryOf(type: avro.Type): fc.Arbitrary<unknown> {
  switch (type.typeName) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'int':
      return fc.integer(INT32);
    case 'long':
      // Within ±2^52: avsc 5.7.9 writes and reads the zig-zag form as a double, so odd forms above
      // 2^53 (longs below -2^52) lose their low bit and come back as other numbers.
      return fc.oneof(fc.integer(INT32), fc.integer({ min: -(2 ** 52), max: 2 ** 52 }));
    case 'float':
      return fc.float();
    case 'double':
      return fc.double();
    case 'bytes':
      return fc.uint8Array({ maxLength: 48 }).map((bytes) => Buffer.from(bytes));
    case 'string':
      return fc.string({ unit: 'grapheme', maxLength: 12 });
    case 'fixed': {
      const size = (type as avro.types.FixedType).size;
      return fc.uint8Array({ minLength: size, maxLength: size }).map((bytes) => Buffer.from(bytes));
    }
    case 'enum':
      return fc.constantFrom(...(type as avro.types.EnumType).symbols);
    case 'array':
      return fc.array(arbitraryOf((type as avro.types.ArrayType).itemsType), { maxLength: 6 });
    case 'map': {
      const values = arbitraryOf((type as avro.types.MapType).valuesType as avro.Type);
      // "__proto__" is left out: avsc decodes map entries by assignment, which treats it as the prototype.
      const key = fc.string({ unit: 'grapheme', maxLength: 8 }).filter((k) => k !== '__proto__');
      return fc.array(fc.tuple(key, values), { maxLength: 4 }).map((entries) => {
        const map: Record<string, unknown> = {};
        for (const [k, v] of entries) map[k] = v;
        return map;
      });
    }
    case 'record': {
      const fields = (type as avro.types.RecordType).fields;
      return fc.record(Object.fromEntries(fields.map((f) => [f.name, arbitraryOf(f.type)])));
    }
    case 'union:unwrapped':
      return fc.oneof(...(type as avro.types.UnwrappedUnionType).types.map(arbitraryOf));
    case 'union:wrapped':
      return fc.oneof(
        ...(type as avro.types.WrappedUnionType).types.map((branch) =>
          branch.typeName === 'null' ? fc.constant(null) : arbitraryOf(branch).map((value) => ({ [branch.branchName!]: value })),
        ),
      );
    default:
      throw new Error(`arbitraryOf: type ${type.typeName} not supported`);
  }
}
