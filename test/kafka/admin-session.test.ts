import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka } from 'kafkajs';
import { withAdmin } from '../../src/kafka/admin-session.js';

function fakeKafka(calls: string[]): Kafka {
  return { admin: () => ({ connect: async () => void calls.push('connect'), disconnect: async () => void calls.push('disconnect') }) } as unknown as Kafka;
}

test('withAdmin connects, runs the work with the admin and disconnects, returning what the work returns', async () => {
  const calls: string[] = [];
  assert.equal(await withAdmin(fakeKafka(calls), async () => (calls.push('work'), 42)), 42);
  assert.deepEqual(calls, ['connect', 'work', 'disconnect']);
});

test('withAdmin disconnects when the work fails, and the failure is what the caller sees', async () => {
  const calls: string[] = [];
  await assert.rejects(withAdmin(fakeKafka(calls), async () => { throw new Error('refused'); }), /refused/);
  assert.deepEqual(calls, ['connect', 'disconnect']);
});

test('withAdmin starts the session again after a retriable failure (a closed connection), not after a final one', async () => {
  const calls: string[] = [];
  let failures = 1;
  const kafka = {
    admin: () => ({
      connect: async () => {
        calls.push('connect');
        if (failures-- > 0) throw Object.assign(new Error('Closed connection'), { name: 'KafkaJSConnectionClosedError', retriable: true });
      },
      disconnect: async () => void calls.push('disconnect'),
    }),
  } as unknown as Kafka;
  assert.equal(await withAdmin(kafka, async () => (calls.push('work'), 'ok')), 'ok');
  assert.deepEqual(calls, ['connect', 'disconnect', 'connect', 'work', 'disconnect']);
  calls.length = 0;
  await assert.rejects(withAdmin(fakeKafka(calls), async () => { throw Object.assign(new Error('no such topic'), { retriable: false }); }), /no such topic/);
  assert.deepEqual(calls, ['connect', 'disconnect'], 'a final failure is not retried');
});
