/**
 * Fail-over on a 3-node cluster (scripts/kafka.sh cluster, started and stopped by this test; it
 * does not use the single local broker): `clipn serve` tags ~1000 images from topics with
 * replication 3 and min.insync.replicas 2 while the broker leading input and results partitions
 * is killed with SIGKILL mid-stream and restarted later. Nothing may be lost: every input id is
 * in the results topic and every result routed to review has its review item (read with fresh
 * consumers at the end); duplicates (at-least-once) are counted and printed.
 */
import { test } from 'node:test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import assert from 'node:assert/strict';
import type { Admin, KafkaMessage } from 'kafkajs';
import { awaitPartitions, CLUSTER_BROKERS, CLUSTER_NODES, clusterKafka, clusterScript, killBroker, partitionStates, restartBroker, startCluster, stopCluster, within, type PartitionState } from './helpers/cluster.js';
import { collect, createTopics, uniqueName, until } from './helpers/kafka.js';
import { httpStatus } from './helpers/process-probe.js';
import { createCodec } from '../../src/codec/index.js';
import { demoImages, putLabelSet, sidecarEnv, sidecarTopicSpecs, startServe, testTopics, type ServeProcess } from './helpers/sidecar.js';
import { ROOT } from '../helpers/clipn-cli.js';

const N = 1000;
const codec = createCodec({ registryUrl: null });
const CHUNK = 20;
// The producer keeps at most this many inputs ahead of the sidecar's commits, so input is still
// being written when a broker dies.
const WINDOW = 200;
const idOf = (m: KafkaMessage): string => m.headers?.['clipn-id']?.toString() ?? '';
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const log = (line: string): void => console.log(`cluster-failover: ${line}`);

/** The __consumer_offsets partition of a group, as the broker picks it: abs(Java hashCode) mod partitions. */
function offsetsPartition(groupId: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(h, 31) + groupId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % partitions;
}

/** The group's committed offsets and the topic's end offsets, polled in the background. */
/**
 * The group's committed offsets and the topic's end offsets, polled in the background;
 * `committedAsked` is when the request behind the latest committed offsets was sent.
 */
function offsetPoller(admin: Admin, topic: string, groupId: string): { committed: Map<number, number>; end: Map<number, number>; committedAsked(): number; total(): number; stop(): Promise<void> } {
  const committed = new Map<number, number>();
  const end = new Map<number, number>();
  let asked = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const sent = Date.now();
        const [c] = await within('fetchOffsets', admin.fetchOffsets({ groupId, topics: [topic] }), 5000);
        for (const p of c?.partitions ?? []) committed.set(p.partition, Math.max(Number(p.offset), committed.get(p.partition) ?? 0));
        asked = sent;
        for (const p of await within('fetchTopicOffsets', admin.fetchTopicOffsets(topic), 5000)) end.set(p.partition, Number(p.high));
      } catch {
        // a broker failing over: keep the last values and ask again
      }
      await new Promise((r) => setTimeout(r, 200)); // poll interval
    }
  })();
  return {
    committed,
    end,
    committedAsked: () => asked,
    total: () => [...committed.values()].reduce((s, v) => s + v, 0),
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** The number of records `topic` holds; asked again while brokers fail over (kafkajs can throw a TypeError then). */
async function recordCount(admin: Admin, topic: string, timeoutMs: number): Promise<number> {
  let count = 0;
  let last = '';
  await until(`the end offsets of ${topic}`, async () => {
    try {
      count = (await within(`end offsets of ${topic}`, admin.fetchTopicOffsets(topic), 5000)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
      return true;
    } catch (error) {
      last = (error as Error).message;
      return false;
    }
  }, timeoutMs, 200).catch((error: Error) => {
    throw new Error(`${error.message} (last error: ${last})`, { cause: error });
  });
  return count;
}

/** Log lines of the sidecar that tell how kafkajs and the consumer went through the fail-over: counts, and the messages by frequency. */
function kafkaTrouble(output: string): { crashes: number; errors: number; warnings: number; samples: string[] } {
  const parsed = output.split('\n').flatMap((l) => {
    try {
      return [JSON.parse(l) as { level?: string | number; msg?: string; err?: { message?: string }; kafka?: { error?: string } }];
    } catch {
      return [];
    }
  });
  const levelOf = (e: { level?: string | number }): string => (typeof e.level === 'number' ? (e.level >= 50 ? 'error' : e.level >= 40 ? 'warn' : 'info') : String(e.level));
  const crashes = parsed.filter((e) => /consumer crashed/i.test(e.msg ?? '')).length;
  const notable = parsed.filter((e) => levelOf(e) === 'error' || (levelOf(e) === 'warn' && /kafka/i.test(e.msg ?? '')));
  const byMessage = new Map<string, number>();
  for (const e of notable) {
    const text = `${levelOf(e)} ${e.msg ?? ''}${e.kafka?.error ? ` (${e.kafka.error})` : ''}${e.err?.message ? ` (${e.err.message})` : ''}`.replace(/\d{3,}/g, 'N').slice(0, 200);
    byMessage.set(text, (byMessage.get(text) ?? 0) + 1);
  }
  const samples = [...byMessage].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([text, n]) => `${n} x ${text}`);
  return { crashes, errors: notable.filter((e) => levelOf(e) === 'error').length, warnings: notable.filter((e) => levelOf(e) === 'warn').length, samples };
}

test(`cluster fail-over: kill -9 of the broker leading input and results partitions mid-stream, restarted later; all ${N} ids in the results`, { timeout: 480_000 }, async () => {
  const t0 = Date.now();
  const cluster = await startCluster(180_000);
  log(`cluster ${cluster.started ? `started in ${seconds(cluster.ms)}` : 'already running'}: ${cluster.output.split('\n').pop()}`);
  const kafka = clusterKafka();
  const admin = kafka.admin();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let serve: ServeProcess | null = null;
  let poller: ReturnType<typeof offsetPoller> | null = null;
  const down = new Set<number>();
  const created: string[] = [];
  try {
    await admin.connect();
    await producer.connect();
    const topics = testTopics();
    const specs = sidecarTopicSpecs(topics, 3).map((s) => ({ ...s, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } }));
    await createTopics(kafka, specs);
    created.push(...specs.map((t) => t.topic));
    const streams = [topics.input, topics.results];
    await awaitPartitions(admin, specs.map((s) => s.topic), 'every partition led and fully in sync', (p) => p.leader > 0 && p.isr.length === 3, 60_000);
    await putLabelSet(kafka, topics.labelSets, { id: 'default', labels: ['circle', 'square', 'triangle', 'star', 'cross', 'ring'] });

    // The victim leads an input partition and a results partition (with 3 partitions on 3
    // brokers each broker leads one of each), preferably also __consumer_offsets partitions (so
    // that it can be the sidecar's group coordinator) and the controller quorum; else the leader
    // of input partition 0, then, in a second round, the leader of results partition 0.
    // The first group request creates __consumer_offsets; on a fresh cluster its coordinators
    // move while that settles (NOT_COORDINATOR): ask again until one answers.
    await until('__consumer_offsets created', () => within('a warm-up offset fetch', admin.fetchOffsets({ groupId: uniqueName('warm-up'), topics: [topics.input] }), 10_000).then(() => true, () => false), 60_000, 500);
    await awaitPartitions(admin, ['__consumer_offsets'], '__consumer_offsets led and in sync', (p) => p.leader > 0 && p.isr.length === 3, 60_000);
    const offsetsLeaders = await partitionStates(admin, '__consumer_offsets');
    const coordinatorOf = (groupId: string): number => offsetsLeaders.find((p) => p.partition === offsetsPartition(groupId, offsetsLeaders.length))?.leader ?? -1;
    const leadersNow = async (): Promise<Map<string, PartitionState[]>> => new Map(await Promise.all(streams.map(async (t) => [t, await partitionStates(admin, t)] as const)));
    const leads = (leaders: Map<string, PartitionState[]>, node: number, topic: string): number[] => leaders.get(topic)!.filter((p) => p.leader === node).map((p) => p.partition);
    const initial = await leadersNow();
    const status = await clusterScript(['status'], 30_000);
    const controller = Number(/active controller: node (-?\d+)/.exec(status.output)?.[1] ?? -1);
    const score = (n: number): number => (offsetsLeaders.some((p) => p.leader === n) ? 2 : 0) + (n === controller ? 1 : 0);
    const candidates = CLUSTER_NODES.filter((n) => leads(initial, n, topics.input).length > 0 && leads(initial, n, topics.results).length > 0).sort((x, y) => score(y) - score(x));
    const both = candidates[0];
    const plan: Array<(l: Map<string, PartitionState[]>) => number> = both !== undefined
      ? [() => both]
      : [(l) => l.get(topics.input)![0]!.leader, (l) => l.get(topics.results)![0]!.leader];
    const describe = (l: Map<string, PartitionState[]>): string => streams.map((t) => `${t === topics.input ? 'input' : 'results'} ${l.get(t)!.map((p) => `${p.partition}→${p.leader}`).join(' ')}`).join(', ');
    log(`leaders: ${describe(initial)}, __consumer_offsets ${offsetsLeaders.map((p) => p.leader).join('')}; active controller node ${controller}; ${both !== undefined ? `victim node ${both}` : 'no node leads both: two rounds'}`);

    // The group id picks the coordinator (its __consumer_offsets partition): the victim when it can.
    let group = uniqueName('g');
    for (let i = 0; i < 200 && both !== undefined && coordinatorOf(group) !== both && offsetsLeaders.some((p) => p.leader === both); i++) group = uniqueName('g');
    const readyStarted = Date.now();
    serve = await startServe(sidecarEnv(topics, group, { CLIPN_KAFKA__BROKERS: CLUSTER_BROKERS.join(',') }), 120_000);
    log(`clipn serve ready in ${seconds(Date.now() - readyStarted)}; group ${group}, coordinator node ${coordinatorOf(group)}`);
    poller = offsetPoller(admin, topics.input, group);
    const progress = poller;

    // Produce paced by the sidecar's commits (at most WINDOW ahead), through the fail-over too.
    const images = demoImages();
    const ids = Array.from({ length: N }, (_, i) => `${group}-${i}`);
    let produced = 0;
    let sendRetries = 0;
    let producerFailed: Error | null = null;
    // For the waits below: stop early when the producer or the sidecar has failed.
    const healthy = (): true => {
      if (producerFailed) throw new Error(`the test producer failed: ${producerFailed.message}`, { cause: producerFailed });
      if (serve!.child.exitCode !== null) throw new Error(`clipn serve exited ${serve!.child.exitCode} mid-stream; output:\n${serve!.output().slice(-4000)}`);
      return true;
    };
    const streamStarted = Date.now();
    const producing = (async () => {
      for (let i = 0; i < N; i += CHUNK) {
        await until(`the sidecar within ${WINDOW} inputs of the producer (at ${i})`, () => serve!.child.exitCode !== null || progress.total() >= i - WINDOW, 180_000, 50);
        const messages = ids.slice(i, i + CHUNK).map((id, j) => ({ key: id, value: images[(i + j) % images.length]!.bytes, headers: { 'clipn-id': id } }));
        for (let attempt = 1; ; attempt++) {
          try {
            await producer.send({ topic: topics.input, acks: -1, messages });
            break;
          } catch (error) {
            // kafkajs gave up on its own retries; a resend can only duplicate, never lose.
            if (attempt >= 3) throw error;
            sendRetries++;
            log(`resending inputs ${i}..${i + messages.length - 1} after: ${(error as Error).message}`);
          }
        }
        produced = i + messages.length;
      }
    })();
    producing.catch((error: Error) => (producerFailed = error)); // awaited below; seen by healthy() meanwhile

    for (const [round, pick] of plan.entries()) {
      const trigger = Math.floor((N * (round + 1)) / (plan.length + 2));
      await until(`${trigger} inputs committed before a kill`, () => healthy() && progress.total() >= trigger, 180_000, 50);
      const leaders = await leadersNow();
      const victim = pick(leaders);
      const led = leads(leaders, victim, topics.input);
      log(`killing node ${victim}, leader of input partition(s) ${led.join(', ') || 'none'} and results partition(s) ${leads(leaders, victim, topics.results).join(', ') || 'none'}`);
      const killedAt = Date.now();
      const [committedAtKill, producedAtKill] = [progress.total(), produced];
      await killBroker(victim, 20_000);
      down.add(victim);
      const since = (): number => Date.now() - killedAt;
      // New leaders for every input and results partition.
      const failover = awaitPartitions(admin, streams, `partitions of ${streams.join(', ')} led by a node other than ${victim}`, (p) => p.leader > 0 && p.leader !== victim, 60_000).then(since);
      failover.catch(() => undefined); // awaited below
      // Where the victim's input partitions stood: the first committed offsets asked for after the
      // kill (with the coordinator on the victim, that waits for the new coordinator).
      await until('committed offsets read after the kill', () => healthy() && progress.committedAsked() >= killedAt, 60_000, 20);
      const atKill = new Map(led.map((p) => [p, progress.committed.get(p) ?? 0]));
      const firstReadMs = since();
      // The sidecar resumed: each input partition the victim led committed past where it stood (or is drained).
      const resume = until(`the sidecar committing on input partitions ${led.join(', ')} again`, () => healthy() && led.every((p) => (progress.committed.get(p) ?? 0) > atKill.get(p)! || (produced >= N && (progress.committed.get(p) ?? 0) >= (progress.end.get(p) ?? Infinity))), 120_000, 50).then(since);
      const [failoverMs, resumeMs] = await Promise.all([failover, resume]);
      const restart = await restartBroker(victim, 120_000);
      down.delete(victim);
      const restartedAt = Date.now();
      await awaitPartitions(admin, streams, `node ${victim} back in sync`, (p) => p.isr.includes(victim), 120_000);
      const line = `node ${victim} killed at ${committedAtKill} committed / ${producedAtKill} produced; new leaders after ${seconds(failoverMs)}; ` +
        `sidecar committing on its partitions again after ${seconds(resumeMs)} (offsets first read ${seconds(firstReadMs)} after the kill); restarted ${seconds(restartedAt - killedAt)} after the kill (script ${seconds(restart.ms)}), back in sync ${seconds(Date.now() - restartedAt)} later; ${produced} produced by then`;
      log(line);
    }

    await producing;
    await until(`all ${N} inputs committed by the sidecar`, () => healthy() && [...progress.end].every(([p, high]) => (progress.committed.get(p) ?? 0) >= high) && progress.end.size > 0 && produced >= N, 240_000, 100);
    const streamMs = Date.now() - streamStarted;
    assert.equal(serve.child.exitCode, null, `clipn serve still runs after the fail-over; output:\n${serve.output().slice(-3000)}`);
    assert.equal(await httpStatus(serve.port, '/readyz', 2000), 200, 'clipn serve is ready after the fail-over');

    // A fresh consumer reads everything the results and dead-letter topics hold.
    // Fresh consumers read everything the input, results, review and dead-letter topics hold.
    const readAll = async (topic: string): Promise<{ byId: Map<string, number>; messages: KafkaMessage[] }> => {
      const count = await recordCount(admin, topic, 30_000);
      const reader = await collect(kafka, topic);
      try {
        await reader.waitFor(`all ${count} records`, (ms) => ms.length >= count, 60_000);
        const byId = new Map<string, number>();
        for (const m of reader.messages) byId.set(idOf(m), (byId.get(idOf(m)) ?? 0) + 1);
        return { byId, messages: [...reader.messages] };
      } finally {
        await reader.stop();
      }
    };
    const inputs = (await readAll(topics.input)).byId;
    const { byId: results, messages: resultMessages } = await readAll(topics.results);
    const review = (await readAll(topics.review)).byId;
    const dlq = (await readAll(topics.deadLetter)).byId;
    const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
    const extra = (m: Map<string, number>): number => [...m.values()].reduce((a, n) => a + n - 1, 0);
    const neverWritten = ids.filter((id) => !inputs.has(id));
    const missing = ids.filter((id) => inputs.has(id) && !results.has(id));
    // A result the label set's rule routes to review must have its review item.
    const routed = new Set<string>();
    for (const m of resultMessages) if (((await codec.decode(m.value!, 'TaggedImage')).value as { routed: boolean }).routed) routed.add(idOf(m));
    const unreviewed = [...routed].filter((id) => !review.has(id));
    const trouble = kafkaTrouble(serve.output());
    log(`${N} inputs: ${sum(inputs)} input records (${extra(inputs)} duplicate(s) from ${sendRetries} resent chunk(s), ${neverWritten.length} never written); ` +
      `${sum(results)} results, ${results.size} distinct ids, ${extra(results)} duplicate(s), ${missing.length} missing; ${routed.size} routed to review: ${sum(review)} review items, ${extra(review)} duplicate(s), ${unreviewed.length} missing; ${sum(dlq)} dead letter(s); stream ${seconds(streamMs)}, test ${seconds(Date.now() - t0)}`);
    log(`sidecar log: ${trouble.crashes} 'consumer crashed', ${trouble.errors} error line(s), ${trouble.warnings} kafka warning(s)${trouble.samples.length ? `; by message:\n  ${trouble.samples.join('\n  ')}` : ''}`);
    assert.deepEqual(neverWritten.slice(0, 20), [], `${neverWritten.length} input(s) whose send resolved are not in the input topic (the test producer lost them)`);
    assert.deepEqual(missing.slice(0, 20), [], `${missing.length} input id(s) have no result; dead letters for: ${[...dlq.keys()].slice(0, 10).join(', ')}`);
    assert.deepEqual(unreviewed.slice(0, 20), [], `${unreviewed.length} routed result(s) have no review item`);
    assert.ok(routed.size > 0, 'some images are routed to review (the demo held-out set has OOD images)');
    assert.equal(sum(dlq), 0, 'no input was dead-lettered by the fail-over');
  } catch (error) {
    if (serve) log(`clipn serve output (end):\n${serve.output().slice(-4000)}`);
    throw error;
  } finally {
    if (serve) {
      // The whole sidecar log, for a closer look (.cache/ is gitignored).
      const file = join(ROOT, '.cache', 'cluster-failover', `serve-${Date.now()}.log`);
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, serve.output());
      log(`clipn serve log: ${file}`);
    }
    await poller?.stop();
    if (serve && serve.child.exitCode === null) {
      serve.child.kill('SIGTERM');
      await within('clipn serve stopping', serve.exited, 45_000).catch(() => serve!.child.kill('SIGKILL'));
    }
    await producer.disconnect().catch(() => undefined);
    // The cluster keeps its data between runs: leave no topics behind.
    if (created.length > 0) await within('deleting the test topics', admin.deleteTopics({ topics: created, timeout: 20_000 }), 30_000).catch((e: Error) => log(`could not delete the test topics: ${e.message}`));
    await admin.disconnect().catch(() => undefined);
    if (cluster.started) {
      const stop = await stopCluster(120_000);
      log(`cluster stopped in ${seconds(stop.ms)}`);
    } else {
      // Not ours to stop: leave it whole.
      for (const node of down) await restartBroker(node, 120_000);
    }
  }
});
