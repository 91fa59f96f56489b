/** src/kafka/catch-up.ts with a fake admin and consumer: the decisions only, no broker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, Consumer } from 'kafkajs';
import { isClipnError } from '../../src/errors.js';
import { CatchUpTracker, describeBehind, fetchEndOffsets } from '../../src/kafka/catch-up.js';

/** An admin answering end offsets (high) per topic and a group's committed offsets. */
function fakeAdmin(highs: Record<string, string[]>, committed: Record<string, string[]> = {}): Admin {
  return {
    fetchTopicOffsets: async (topic: string) => {
      if (!(topic in highs)) throw Object.assign(new Error('This server does not host this topic-partition'), { name: 'KafkaJSProtocolError', type: 'UNKNOWN_TOPIC_OR_PARTITION', retriable: true });
      return highs[topic]!.map((high, partition) => ({ partition, offset: high, high, low: '0' }));
    },
    fetchOffsets: async ({ topics }: { groupId: string; topics: string[] }) =>
      topics.map((topic) => ({ topic, partitions: (committed[topic] ?? []).map((offset, partition) => ({ partition, offset, metadata: null })) })),
  } as unknown as Admin;
}

/** A consumer whose END_BATCH_PROCESS the test fires. */
function fakeConsumer(): { consumer: Consumer; endBatch(topic: string, partition: number, lastOffset: string): void } {
  const listeners: Array<(e: { payload: { topic: string; partition: number; lastOffset: string } }) => void> = [];
  const consumer = {
    events: { END_BATCH_PROCESS: 'consumer.end_batch_process' },
    on: (event: string, listener: (typeof listeners)[number]) => {
      assert.equal(event, 'consumer.end_batch_process');
      listeners.push(listener);
      return () => undefined;
    },
  } as unknown as Consumer;
  return { consumer, endBatch: (topic, partition, lastOffset) => listeners.forEach((l) => l({ payload: { topic, partition, lastOffset } })) };
}

test('fetchEndOffsets gives every partition its end; a failure is a KAFKA_ERROR naming the topic', async () => {
  assert.deepEqual(await fetchEndOffsets(fakeAdmin({ t: ['3', '0'] }), 't'), [
    { topic: 't', partition: 0, end: 3n },
    { topic: 't', partition: 1, end: 0n },
  ]);
  await assert.rejects(fetchEndOffsets(fakeAdmin({}), 'missing'), (e: unknown) => isClipnError(e, 'KAFKA_ERROR') && /fetching the end offsets of missing/.test(e.message) && e.retriable);
});

test('not caught up while the ends are unknown; empty partitions are caught up at once', () => {
  const tracker = new CatchUpTracker();
  tracker.passed('t', 0, '100');
  assert.equal(tracker.caughtUp, false, 'no ends yet');
  tracker.setEnds([{ topic: 't', partition: 0, end: 0n }]);
  assert.equal(tracker.caughtUp, true);
  tracker.setEnds([]);
  assert.equal(tracker.caughtUp, true, 'a topic with no partitions to read');
});

test('a topic ending in a transaction marker: the batch end, not the last message, reaches the end', async () => {
  const tracker = new CatchUpTracker();
  await tracker.fetchEnds(fakeAdmin({ t: ['11'] }), ['t']);
  // Records 0..9, the commit marker at 10: the high watermark is 11.
  for (let offset = 0; offset < 10; offset++) tracker.passed('t', 0, String(offset));
  assert.equal(tracker.caughtUp, false, 'last message + 1 is one short of the end');
  assert.deepEqual(tracker.behind(), [{ topic: 't', partition: 0, position: 10n, end: 11n }]);
  const { consumer, endBatch } = fakeConsumer();
  tracker.follow(consumer);
  endBatch('t', 0, '10');
  assert.equal(tracker.caughtUp, true);
});

test('a batch of only markers or aborted records moves the position; other topics do not count', async () => {
  const tracker = new CatchUpTracker();
  await tracker.fetchEnds(fakeAdmin({ a: ['5', '2'], b: ['4'] }), ['a']);
  const { consumer, endBatch } = fakeConsumer();
  tracker.follow(consumer);
  endBatch('a', 0, '4');
  endBatch('b', 0, '3');
  assert.deepEqual(tracker.behind().map((p) => `${p.topic}:${p.partition}`), ['a:1']);
  endBatch('a', 1, '1');
  assert.equal(tracker.caughtUp, true);
});

test('positions only move forward; null and undefined offsets are ignored', async () => {
  const tracker = new CatchUpTracker();
  tracker.setEnds([{ topic: 't', partition: 0, end: 8n }]);
  tracker.advance('t', 0, 6n);
  tracker.passed('t', 0, '2');
  tracker.passed('t', 0, null);
  tracker.passed('t', 0, undefined);
  assert.equal(describeBehind(tracker.behind()), 't:0 at 6 of 8');
});

test("a group's committed offsets count as read: a restarted consumer need not see those batches again", async () => {
  const tracker = new CatchUpTracker();
  // Partition 0 committed up to its end; partition 1 nothing committed (-1).
  await tracker.fetchEnds(fakeAdmin({ t: ['7', '3'] }, { t: ['7', '-1'] }), ['t'], 'group');
  assert.deepEqual(tracker.behind(), [{ topic: 't', partition: 1, position: 0n, end: 3n }]);
  tracker.advance('t', 1, 3n);
  assert.equal(tracker.caughtUp, true);
});

test('whenCaughtUp resolves when the last partition reaches its end, also for waits begun before the ends are known', async () => {
  const tracker = new CatchUpTracker();
  let settled = false;
  const waiting = tracker.whenCaughtUp({ timeoutMs: 5_000 }).then(() => (settled = true));
  tracker.advance('t', 0, 4n);
  tracker.setEnds([{ topic: 't', partition: 0, end: 4n }, { topic: 't', partition: 1, end: 1n }]);
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false);
  tracker.passed('t', 1, '0');
  await waiting;
  await tracker.whenCaughtUp(); // already caught up: at once
});

test('whenCaughtUp rejects after its timeout with the partitions behind, by default a retriable KAFKA_ERROR', async () => {
  const tracker = new CatchUpTracker();
  tracker.setEnds([{ topic: 't', partition: 2, end: 9n }]);
  tracker.advance('t', 2, 4n);
  await assert.rejects(tracker.whenCaughtUp({ timeoutMs: 10 }), (e: unknown) => isClipnError(e, 'KAFKA_ERROR') && e.retriable && /not caught up within 10 ms \(t:2 at 4 of 9\)/.test(e.message));
  await assert.rejects(
    tracker.whenCaughtUp({ timeoutMs: 10, timeoutError: (behind) => new Error(`left ${behind.map((p) => p.partition).join()}`) }),
    /left 2/,
  );
});

test('fail rejects current and later waits with its error, the first error kept', async () => {
  const tracker = new CatchUpTracker();
  tracker.setEnds([{ topic: 't', partition: 0, end: 1n }]);
  const waiting = tracker.whenCaughtUp();
  tracker.fail(new Error('crashed'));
  tracker.fail(new Error('later'));
  await assert.rejects(waiting, /crashed/);
  await assert.rejects(tracker.whenCaughtUp(), /crashed/);
});
