/**
 * Property test of the bounded pre-scan: for each record schema, 100,000 inputs (random valid
 * records and mutations of their encodings) either decode or are refused with a codec error,
 * each within 50 ms. Seeds are fixed so that a failure reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RECORD_NAMES, SchemaCatalog, type RecordName } from '../../src/codec/index.js';
import { ConfluentCodec } from '../../src/codec/confluent.js';
import { decodeSingleObject, encodeSingleObject } from '../../src/codec/single-object.js';
import { isClipnError } from '../../src/errors.js';
import { arbitraryOf } from '../helpers/avro-arbitrary.js';
import { zigzag } from '../helpers/avro-spec.js';
import { plain } from '../helpers/records.js';

const catalog = new SchemaCatalog('schemas');
const SEED = 20_261_201;
/** Inputs per schema: each run decodes one valid record and MUTANTS mutations of it. */
const INPUTS = 100_000;
const MUTANTS = 9;
const RUNS = INPUTS / (1 + MUTANTS);
/** Every tenth input is also decoded in the registry framing (its body, after a registry header). */
const CONFLUENT_EVERY = 10;
const LIMIT_MS = 50;
/** Calls slower than this are measured again (see record()). */
const REMEASURE_MS = 10;
const ATTEMPTS = 5;
const HEADER = 10;

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'varint'; at: number; value: bigint; insert: boolean }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'duplicate'; from: number; length: number; at: number };

const position = fc.nat({ max: 1 << 20 });
/** Counts, lengths and indices that break decoders: huge, negative, at 32-bit edges, anywhere in 64 bits. */
const nastyLong = fc.oneof(
  fc.constantFrom(2n ** 60n, -1n, 2n ** 31n, 2n ** 32n - 1n, -(2n ** 31n), 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, -(2n ** 60n), 0n, 1n, 64n),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: position, bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('byte' as const), at: position, value: fc.constantFrom(0x00, 0x01, 0x02, 0x7f, 0x80, 0xff) }),
  fc.record({ kind: fc.constant('varint' as const), at: position, value: nastyLong, insert: fc.boolean() }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    // Random bytes, or varints that never end or run past 10 bytes.
    bytes: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.constantFrom(new Uint8Array(11).fill(0xff), new Uint8Array(6).fill(0x80))),
  }),
  fc.record({ kind: fc.constant('duplicate' as const), from: position, length: fc.integer({ min: 1, max: 64 }), at: position }),
);
const mutant = fc.array(mutation, { minLength: 1, maxLength: 3 });

/** Applies mutations; bit flips and byte overwrites reach the header too, the others only the body. */
function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of mutations) {
    const header = m.kind === 'flip' || m.kind === 'byte' ? 0 : Math.min(HEADER, out.length);
    const at = header + (m.at % Math.max(out.length - header + (m.kind === 'duplicate' || m.kind === 'insert' ? 1 : 0), 1));
    switch (m.kind) {
      case 'flip':
        if (out.length > 0) out[at] = out[at]! ^ (1 << m.bit);
        break;
      case 'byte':
        if (out.length > 0) out[at] = m.value;
        break;
      case 'varint': {
        const varint = Buffer.from(zigzag(m.value));
        out = m.insert ? Buffer.concat([out.subarray(0, at), varint, out.subarray(at)]) : Buffer.concat([out.subarray(0, at), varint, out.subarray(at + varint.length)]);
        break;
      }
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
        break;
      case 'duplicate': {
        const from = m.from % Math.max(out.length, 1);
        out = Buffer.concat([out.subarray(0, at), out.subarray(from, from + m.length), out.subarray(at)]);
        break;
      }
    }
  }
  return out;
}

interface Tally {
  inputs: number;
  decoded: number;
  refused: number;
  unknown: number;
  confluent: number;
  /** The slowest first measurement. */
  firstMaxMs: number;
  /** The slowest call once slow calls were measured again. */
  maxMs: number;
  slowest: string;
}

/** Anything but a value or a codec refusal fails the property. */
function classify(bytes: Buffer, error: unknown): 'decoded' | 'refused' | 'unknown' {
  if (error === undefined) return 'decoded';
  if (isClipnError(error, 'CODEC_DECODE_FAILED')) return 'refused';
  if (isClipnError(error, 'CODEC_UNKNOWN_FINGERPRINT')) return 'unknown';
  throw new Error(`expected a value or CODEC_DECODE_FAILED/CODEC_UNKNOWN_FINGERPRINT, got ${String(error)} for ${bytes.toString('hex')}`, { cause: error });
}

/**
 * Keeps the time of one decode. A call over REMEASURE_MS is measured again, up to ATTEMPTS times,
 * and its fastest time kept: a garbage-collection pause, a compilation or another process on the
 * (2-core, shared) machine slows one call, while a decode whose cost grows with what the input
 * claims is slow every time. Returns the fastest time so far, or -1 when done.
 */
function record(tally: Tally, bytes: Buffer, attempt: number, ms: number, best: number): number {
  if (attempt === 0) tally.firstMaxMs = Math.max(tally.firstMaxMs, ms);
  const fastest = Math.min(best, ms);
  if (fastest < REMEASURE_MS || attempt === ATTEMPTS - 1) {
    if (fastest > tally.maxMs) {
      tally.maxMs = fastest;
      tally.slowest = bytes.subarray(0, 64).toString('hex');
    }
    return -1;
  }
  return fastest;
}

function decodeSingle(tally: Tally, bytes: Buffer): unknown {
  let value: unknown;
  let error: unknown;
  for (let attempt = 0, best = Infinity; best >= 0; attempt++) {
    error = undefined;
    const started = performance.now();
    try {
      value = decodeSingleObject(catalog, bytes).value;
    } catch (e) {
      error = e;
    }
    best = record(tally, bytes, attempt, performance.now() - started, best);
  }
  const kind = classify(bytes, error);
  tally.inputs++;
  if (kind === 'decoded') tally.decoded++;
  else if (kind === 'refused') tally.refused++;
  else tally.unknown++;
  return value;
}

async function decodeConfluent(tally: Tally, codec: ConfluentCodec, body: Buffer): Promise<void> {
  const bytes = Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), body]);
  let error: unknown;
  for (let attempt = 0, best = Infinity; best >= 0; attempt++) {
    error = undefined;
    const started = performance.now();
    try {
      await codec.decode(bytes);
    } catch (e) {
      error = e;
    }
    best = record(tally, bytes, attempt, performance.now() - started, best);
  }
  classify(bytes, error);
  tally.confluent++;
}

for (const [index, name] of RECORD_NAMES.entries()) {
  test(`${name}: ${INPUTS} valid and mutated inputs decode or are refused, each within ${LIMIT_MS} ms`, async (t) => {
    const entry = catalog.get(name as RecordName);
    const confluent = new ConfluentCodec(catalog, { register: async () => 1, schemaById: async () => entry.schemaText });
    const tally: Tally = { inputs: 0, decoded: 0, refused: 0, unknown: 0, confluent: 0, firstMaxMs: 0, maxMs: 0, slowest: '' };
    // The registry framing decodes asynchronously: its share of the inputs is decoded after the property.
    const registryBodies: Buffer[] = [];
    fc.assert(
      fc.property(arbitraryOf(entry.type), fc.array(mutant, { minLength: MUTANTS, maxLength: MUTANTS }), (value, mutants) => {
        const valid = encodeSingleObject(catalog, name, value);
        assert.deepEqual(plain(decodeSingle(tally, valid)), plain(value), 'a valid record decodes to itself');
        for (const mutations of mutants) {
          const bytes = mutate(valid, mutations);
          decodeSingle(tally, bytes);
          if (tally.inputs % CONFLUENT_EVERY === 0) registryBodies.push(bytes.subarray(Math.min(HEADER, bytes.length)));
        }
      }),
      { seed: SEED + index, numRuns: RUNS },
    );
    for (const body of registryBodies) await decodeConfluent(tally, confluent, body);
    t.diagnostic(
      `${name}: ${tally.inputs} inputs: ${tally.decoded} decoded, ${tally.refused} refused (CODEC_DECODE_FAILED), ${tally.unknown} unknown fingerprint; ` +
        `${tally.confluent} also in registry framing; max ${tally.maxMs.toFixed(2)} ms (first measurements: max ${tally.firstMaxMs.toFixed(2)} ms)`,
    );
    assert.ok(tally.inputs >= INPUTS, `expected ${INPUTS} inputs at least, got ${tally.inputs}`);
    assert.ok(tally.maxMs < LIMIT_MS, `expected every decode within ${LIMIT_MS} ms, the slowest took ${tally.maxMs.toFixed(1)} ms (input starting ${tally.slowest})`);
  });
}
