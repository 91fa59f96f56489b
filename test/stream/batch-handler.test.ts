import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EachBatchPayload, KafkaMessage } from 'kafkajs';
import { createBatchHandler } from '../../src/stream/batch-handler.js';
import type { CommitPoint, Delivery, OutputRecord } from '../../src/stream/delivery.js';
import { Slots } from '../../src/stream/slots.js';

// A fake of the kafkajs payload: the handler's logic is pure given these callbacks.
function payload(offsets: number[], log: string[]): EachBatchPayload {
  const messages = offsets.map((o) => ({ offset: String(o), key: null, value: Buffer.from(`m${o}`), headers: {}, timestamp: '0', attributes: 0 }) as KafkaMessage);
  let pausedResume = 0;
  return {
    batch: { topic: 't', partition: 2, highWatermark: String(offsets[offsets.length - 1]! + 1), messages } as unknown as EachBatchPayload['batch'],
    resolveOffset: (o: string) => log.push(`resolve ${o}`),
    heartbeat: async () => undefined,
    pause: () => {
      log.push('pause');
      return () => {
        pausedResume++;
        log.push('resume');
      };
    },
    commitOffsetsIfNecessary: async () => undefined,
    uncommittedOffsets: () => ({ topics: [] }),
    isRunning: () => true,
    isStale: () => false,
  } as EachBatchPayload;
}

function recordingDelivery(log: string[], fail?: (c: CommitPoint) => boolean): Delivery {
  return {
    mode: 'at-least-once',
    async deliver(records: OutputRecord[], commit: CommitPoint) {
      if (fail?.(commit)) throw new Error('broker said no');
      log.push(`deliver ${records.length} commit ${commit.offset}`);
    },
  };
}

const echo = async (m: KafkaMessage): Promise<OutputRecord[]> => [{ topic: 'out', key: null, value: m.value as Buffer }];

test('offsets are committed in order, after the chunk is delivered', async () => {
  const log: string[] = [];
  const handler = createBatchHandler(echo, recordingDelivery(log), new Slots(100), { maxChunk: 2, heartbeatIntervalMs: 1000 });
  await handler(payload([10, 11, 12, 13, 14], log));
  assert.deepEqual(log, ['deliver 2 commit 12', 'resolve 11', 'deliver 2 commit 14', 'resolve 13', 'deliver 1 commit 15', 'resolve 14']);
});

test('a failed delivery commits nothing for that chunk and surfaces the error', async () => {
  const log: string[] = [];
  const handler = createBatchHandler(echo, recordingDelivery(log, (c) => c.offset === '14'), new Slots(100), { maxChunk: 2, heartbeatIntervalMs: 1000 });
  await assert.rejects(handler(payload([10, 11, 12, 13], log)), /broker said no/);
  assert.deepEqual(log, ['deliver 2 commit 12', 'resolve 11']);
});

test('no free slots pauses the partition until work drains', async () => {
  const log: string[] = [];
  const slots = new Slots(1);
  slots.tryTake(1); // another partition holds the only slot
  const handler = createBatchHandler(echo, recordingDelivery(log), slots, { maxChunk: 4, heartbeatIntervalMs: 1000 });
  const run = handler(payload([0], log));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(log, ['pause']);
  slots.give(1);
  await run;
  assert.deepEqual(log, ['pause', 'resume', 'deliver 1 commit 1', 'resolve 0']);
  assert.equal(slots.inUse, 0);
});

test('a chunk interrupted by shutdown is neither delivered nor committed; other failures surface', async () => {
  const { ClipnError } = await import('../../src/errors.js');
  const log: string[] = [];
  const interrupted = async (m: KafkaMessage): Promise<OutputRecord[]> => {
    if (m.offset === '13') throw new ClipnError('INTERRUPTED', 'shutdown');
    return echo(m);
  };
  const handler = createBatchHandler(interrupted, recordingDelivery(log), new Slots(100), { maxChunk: 2, heartbeatIntervalMs: 1000 });
  await handler(payload([10, 11, 12, 13, 14], log));
  assert.deepEqual(log, ['deliver 2 commit 12', 'resolve 11']);
  const broken = async (): Promise<OutputRecord[]> => Promise.reject(new Error('a bug'));
  await assert.rejects(createBatchHandler(broken, recordingDelivery([]), new Slots(100), { maxChunk: 2, heartbeatIntervalMs: 1000 })(payload([1], [])), /a bug/);
});
