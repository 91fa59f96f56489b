import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupBySize, recordBytes, sendWithinLimits, type OutputRecord } from '../../src/stream/produce-plan.js';

const rec = (topic: string, bytes: number, tag = ''): OutputRecord => ({ topic, key: tag, value: Buffer.alloc(bytes) });
const tooLarge = Object.assign(new Error('The request included a message larger than the max message size'), { type: 'MESSAGE_TOO_LARGE' });

test('records are grouped in order so that each topic stays under its limit in every group', () => {
  const records = [rec('a', 400), rec('a', 400), rec('b', 900), rec('a', 400), rec('b', 50)];
  const groups = groupBySize(records, () => 1000);
  assert.deepEqual(groups.map((g) => g.length), [3, 2]);
  assert.deepEqual(groups.flat(), records);
  for (const g of groups) {
    for (const topic of ['a', 'b']) assert.ok(g.filter((r) => r.topic === topic).reduce((s, r) => s + recordBytes(r), 0) <= 1000);
  }
});

test('a group the broker refuses as too large is halved until it fits; a record that never fits is replaced', async () => {
  // The "broker" takes at most 3 records per call, and never the record tagged huge.
  const sent: string[][] = [];
  const send = async (group: OutputRecord[]) => {
    if (group.length > 3 || group.some((r) => r.key === 'huge')) throw tooLarge;
    sent.push(group.map((r) => String(r.key)));
  };
  const records = ['a', 'b', 'c', 'd', 'huge', 'e', 'f'].map((t) => rec('out', 10, t));
  const replaced: string[] = [];
  const n = await sendWithinLimits(records, send, () => 1_000_000, async (r, bytes, limit) => {
    replaced.push(`${String(r.key)} ${bytes} ${limit < bytes}`);
    return rec('dlq', 1, `dl-${String(r.key)}`);
  });
  assert.equal(n, 1);
  assert.deepEqual(replaced, [`huge ${recordBytes(records[4]!)} true`]);
  assert.deepEqual(sent.flat(), ['a', 'b', 'c', 'd', 'dl-huge', 'e', 'f']);
  assert.ok(sent.every((g) => g.length <= 3));
});

test('a record over its topic limit is replaced before anything is sent; other errors are not swallowed', async () => {
  const sent: string[] = [];
  const n = await sendWithinLimits([rec('t', 10, 'ok'), rec('t', 5000, 'big')], async (g) => void sent.push(...g.map((r) => String(r.key))), () => 1000, async () => rec('dlq', 1, 'letter'));
  assert.equal(n, 1);
  assert.deepEqual(sent, ['ok', 'letter']);
  await assert.rejects(sendWithinLimits([rec('t', 10)], async () => Promise.reject(new Error('broker down')), () => 1000, async (r) => r), /broker down/);
});

test('a replacement the broker refuses too is a coded error, not a loop', async () => {
  await assert.rejects(
    sendWithinLimits([rec('t', 10, 'x')], async () => Promise.reject(tooLarge), () => 1000, async () => rec('dlq', 1, 'letter')),
    (e: unknown) => (e as { code?: string }).code === 'KAFKA_ERROR' && /its \d+-byte replacement/.test((e as Error).message),
  );
});
