/**
 * Scale-out under faults (real broker): three `clipn serve` processes in one group on a
 * 6-partition input, 3000 images produced at a steady pace, one replica kill -9'd about every
 * 15 s and restarted, 10 times. At-least-once: every id gets a result. Exactly-once: a
 * read_committed consumer sees every id exactly once across results and dead letters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { collect, createTopics, produce, testKafka, uniqueName, until } from './helpers/kafka.js';
import { demoImages, putLabelSet, sidecarEnv, sidecarTopicSpecs, stopServe, testTopics } from './helpers/sidecar.js';
import { spawnClipn } from './helpers/clipn-process.js';

const kafka = testKafka();
const images = demoImages();
const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';

async function scaleOut(delivery: 'at-least-once' | 'exactly-once'): Promise<{ ids: string[]; seen: Map<string, number>; kills: number; seconds: number }> {
  const topics = testTopics();
  await createTopics(kafka, sidecarTopicSpecs(topics, 6));
  await putLabelSet(kafka, topics.labelSets, { id: 'default', labels: ['circle', 'square', 'triangle', 'star', 'cross', 'ring'] });
  // The same environment for every replica, as the chart gives them (one group, one client id).
  const env = sidecarEnv(topics, uniqueName('g'), { CLIPN_PROCESSING__DELIVERY: delivery, CLIPN_PROCESSING__MAX_WAIT_MS: '50' });
  const readCommitted = delivery === 'exactly-once';
  const [results, dlq] = await Promise.all([collect(kafka, topics.results, { readCommitted }), collect(kafka, topics.deadLetter, { readCommitted })]);
  const tag = uniqueName(delivery === 'exactly-once' ? 'eos' : 'alo');
  const ids = Array.from({ length: 3000 }, (_, i) => `${tag}-${i}`);
  const replicas = [spawnClipn(['serve'], env), spawnClipn(['serve'], env), spawnClipn(['serve'], env)];
  const started = Date.now();
  let kills = 0;
  try {
    // 3000 images over about 150 s: the kills fall in the middle of the stream.
    const producing = (async () => {
      for (let i = 0; i < ids.length; i += 100) {
        const due = started + (i / ids.length) * 150_000;
        await until(`time to produce batch ${i / 100}`, () => Date.now() >= due, 200_000, 100);
        await produce(kafka, topics.input, ids.slice(i, i + 100).map((id, j) => ({ key: id, value: images[(i + j) % images.length]!.bytes, headers: { 'clipn-id': id } })));
      }
    })();
    for (let round = 0; round < 10; round++) {
      await until(`kill ${round + 1} due`, () => Date.now() >= started + 15_000 * (round + 1), 200_000, 100);
      const victim = round % replicas.length;
      replicas[victim]!.child.kill('SIGKILL');
      await replicas[victim]!.exited;
      kills++;
      replicas[victim] = spawnClipn(['serve'], env);
    }
    await producing;
    const accounted = () => new Set([...results.messages, ...dlq.messages].map(idOf));
    await until(`all ${ids.length} ids in the results or dead letters`, () => ids.every((id) => accounted().has(id)), 300_000, 500);
    for (const r of replicas) await stopServe(r);
    const seen = new Map<string, number>();
    for (const m of [...results.messages, ...dlq.messages]) seen.set(idOf(m), (seen.get(idOf(m)) ?? 0) + 1);
    return { ids, seen, kills, seconds: (Date.now() - started) / 1000 };
  } finally {
    for (const r of replicas) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all([results.stop(), dlq.stop()]);
  }
}

test('three replicas, 3000 images, a replica kill -9ed every 15 s 10 times, at-least-once: every id has a result', { timeout: 600_000 }, async () => {
  const { ids, seen, kills, seconds } = await scaleOut('at-least-once');
  const duplicates = [...seen.values()].filter((c) => c > 1).length;
  console.log(`at-least-once scale-out: ${ids.length} inputs, ${kills} kills, ${seconds.toFixed(0)} s; ${duplicates} ids delivered more than once`);
  assert.equal(kills, 10);
  for (const id of ids) assert.ok(seen.has(id), `${id} has no result`);
});

test('three replicas, 3000 images, a replica kill -9ed every 15 s 10 times, exactly-once: a read_committed consumer sees every id exactly once', { timeout: 600_000 }, async () => {
  const { ids, seen, kills, seconds } = await scaleOut('exactly-once');
  const twice = [...seen].filter(([, c]) => c > 1);
  console.log(`exactly-once scale-out: ${ids.length} inputs, ${kills} kills, ${seconds.toFixed(0)} s; ${twice.length} ids seen more than once`);
  assert.equal(kills, 10);
  assert.deepEqual(twice, []);
  for (const id of ids) assert.equal(seen.get(id), 1, id);
});
