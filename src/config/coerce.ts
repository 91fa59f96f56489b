/**
 * Schema building blocks that accept the same value from a JSON file and from an environment
 * variable (always a string): numbers, booleans, lists, sizes, durations and nulls are coerced
 * here, and every check carries an "expected ..." message for the error report.
 */
import { z } from 'zod';

const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB|KB|MB|GB)?$/i;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const SIZE_FACTORS: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1e3, mb: 1e6, gb: 1e9 };
const DURATION_FACTORS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** Numeric strings become numbers; anything else is left for the check to refuse. */
const toNumber = (v: unknown): unknown => (typeof v === 'string' && NUMERIC.test(v.trim()) ? Number(v.trim()) : v);

const range = (min: number | undefined, max: number | undefined): string =>
  min !== undefined && max !== undefined ? ` in [${min}, ${max}]` : min !== undefined ? ` >= ${min}` : max !== undefined ? ` <= ${max}` : '';

/** An integer, optionally bounded. */
export function int(min?: number, max?: number) {
  const expected = `expected integer${range(min, max)}`;
  let schema = z.number({ error: expected }).int({ error: expected });
  if (min !== undefined) schema = schema.min(min, { error: expected });
  if (max !== undefined) schema = schema.max(max, { error: expected });
  return z.preprocess(toNumber, schema);
}

/** A finite number in a range; `exclusive` makes both bounds open. */
export function fraction(min: number, max: number, exclusive = false) {
  const expected = exclusive ? `expected number in (${min}, ${max})` : `expected number in [${min}, ${max}]`;
  const base = z.number({ error: expected });
  const schema = exclusive ? base.gt(min, { error: expected }).lt(max, { error: expected }) : base.min(min, { error: expected }).max(max, { error: expected });
  return z.preprocess(toNumber, schema);
}

/** A byte count: an integer, or a string with a unit (512KiB, 20MiB, 1GB). */
export function bytes(min = 0) {
  const expected = `expected a byte count >= ${min} (integer, or with a unit: 512KiB, 20MiB, 1GB)`;
  return z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const m = SIZE.exec(v.trim());
      return m ? Math.round(Number(m[1]) * SIZE_FACTORS[(m[2] ?? 'b').toLowerCase()]!) : v;
    },
    z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }),
  );
}

/** A duration in milliseconds: an integer, or a string with a unit (250ms, 30s, 15m, 6h, 1d). */
export function duration(min = 1) {
  const expected = `expected a duration >= ${min} ms (integer milliseconds, or with a unit: 30s, 15m, 6h, 1d)`;
  return z.preprocess(
    (v) => {
      if (typeof v !== 'string') return toNumber(v);
      const m = DURATION.exec(v.trim());
      return m ? Math.round(Number(m[1]) * DURATION_FACTORS[m[2]!]!) : toNumber(v);
    },
    z.number({ error: expected }).int({ error: expected }).min(min, { error: expected }),
  );
}

/** true/false (also 1/0, yes/no, on/off from the environment). */
export const bool = () =>
  z.preprocess((v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim().toLowerCase();
    return ['true', '1', 'yes', 'on'].includes(s) ? true : ['false', '0', 'no', 'off'].includes(s) ? false : v;
  }, z.boolean({ error: 'expected true or false' }));

/** A non-empty string. */
export const text = () => z.string({ error: 'expected a non-empty string' }).min(1, { error: 'expected a non-empty string' });

/** One of `values`. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  return z.enum(values, { error: `expected one of ${values.join(', ')}` });
}

/** A list: a JSON array, a comma-separated string, or a JSON array in a string; `nonEmpty` requires an item. */
export function list<T extends z.ZodType>(item: T, nonEmpty = true) {
  const schema = z.array(item, { error: 'expected a list (JSON array or comma-separated)' });
  return z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const s = v.trim();
      if (s.startsWith('[')) {
        try {
          return JSON.parse(s) as unknown;
        } catch {
          // Not JSON: a comma list whose first item starts with a bracket ([::1]:9092,...).
        }
      }
      return s.split(',').map((p) => p.trim()).filter((p) => p !== '');
    },
    nonEmpty ? schema.min(1, { error: 'expected at least one item' }) : schema,
  );
}

/** `schema` or null; an empty string or "null" (from the environment) is null. */
export function nullable<T extends z.ZodType>(schema: T) {
  return z.preprocess((v) => (v === '' || v === 'null' ? null : v), schema.nullable());
}

/** An http(s) URL. */
export const httpUrl = () =>
  text().refine(
    (v) => {
      try {
        return ['http:', 'https:'].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { error: 'expected an http(s) URL' },
  );

/** A #rgb or #rrggbb colour, as the 8-bit {r, g, b} the image layer takes. */
export const hexColour = () =>
  z
    .string({ error: 'expected a colour #rrggbb' })
    .regex(/^#([0-9a-f]{3}|[0-9a-f]{6})$/i, { error: 'expected a colour #rrggbb' })
    .transform((v) => {
      const hex = v.length === 4 ? [...v.slice(1)].map((c) => c + c).join('') : v.slice(1);
      return { r: parseInt(hex.slice(0, 2), 16), g: parseInt(hex.slice(2, 4), 16), b: parseInt(hex.slice(4, 6), 16) };
    });
