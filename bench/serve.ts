/**
 * `clipn serve` as a child process on the real broker: sustained images/s on a backlog of
 * 640x480 JPEGs, and end-to-end latency (the input record's timestamp to the result record's
 * timestamp) under a paced load below saturation, with the per-stage time from the sidecar's
 * own stage histograms and its memory from /proc.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { createCodec } from '../src/codec/index.js';
import { collect, createTopics, type Collector } from '../test/integration/helpers/kafka.js';
import { sidecarEnv, sidecarTopicSpecs, testTopics, type TestTopics } from '../test/integration/helpers/sidecar.js';
import { eventLoopBuckets, eventLoopSpan, ServeProcess, stageTotals, type EventLoopSpan, type Sample } from './sidecar-process.js';
import { quantile, summarize, type Summary } from './stats.js';

export const codec = createCodec({ registryUrl: null });

export interface ServePlan {
  bundleDir: string;
  device: string;
  threads: number;
  batch: number;
  saturationImages: number;
  saturationRounds: number;
  latencySeconds: number;
  latencyRounds: number;
  /** Offered load of the latency phase, as a share of the measured saturation rate. */
  latencyLoad: number;
}

export interface ServeRun {
  maxWaitMs: number;
  readySeconds: number;
  saturation: Summary;
  offeredPerSecond: number;
  latencyImages: number;
  p50: Summary;
  p99: Summary;
  /** Mean ms per image of each sidecar stage during the saturation rounds. */
  stages: Record<string, number>;
  meanBatch: number;
  memory: { idleMiB: number; afterImagesMiB: number; peakMiB: number };
  /** The sidecar's event loop (clipn_event_loop_delay) during saturation, and from its start to the end of the phases. */
  eventLoop: { saturation: EventLoopSpan; lifetime: EventLoopSpan };
}

export interface LiveServe {
  serve: ServeProcess;
  topics: TestTopics;
  results: Collector;
  stop(): Promise<void>;
}

const idOf = (headers: Record<string, unknown> | undefined): string => String(headers?.['clipn-id'] ?? '');

export async function putLabelSet(kafka: Kafka, topic: string, set: { id: string; version: number; labels: string[]; templates: string[] | null }): Promise<void> {
  const value = await codec.encode('LabelSet', { ...set, routing: { rule: 'atd', params: {} }, thresholds: null, description: null, updatedAt: Date.now() });
  const producer = kafka.producer();
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ key: set.id, value }] });
  } finally {
    await producer.disconnect();
  }
}

/**
 * The glibc malloc settings the container image runs `clipn serve` with (the Dockerfile's
 * GLIBC_TUNABLES), so that serve's memory is measured as deployed.
 */
export function imageMallocTunables(): string {
  const dockerfile = readFileSync(join(import.meta.dirname, '..', 'Dockerfile'), 'utf8');
  const tunables = /GLIBC_TUNABLES=(\S+)/.exec(dockerfile)?.[1];
  if (tunables === undefined) throw new Error('Dockerfile: expected an ENV GLIBC_TUNABLES=... line');
  return tunables;
}

/** Starts a sidecar on fresh topics with a small default label set (one template). */
export async function startServe(kafka: Kafka, plan: ServePlan, maxWaitMs: number, group: string, template: string): Promise<LiveServe & { readySeconds: number }> {
  const topics = testTopics();
  await createTopics(kafka, sidecarTopicSpecs(topics, 3));
  await putLabelSet(kafka, topics.labelSets, { id: 'default', version: 1, labels: ['circle', 'square', 'triangle', 'star', 'cross', 'ring'], templates: [template] });
  const results = await collect(kafka, topics.results);
  const env = sidecarEnv(topics, group, {
    CLIPN_MODEL__DIR: plan.bundleDir,
    CLIPN_MODEL__EXECUTION_PROVIDERS: plan.device,
    CLIPN_MODEL__INTRA_OP_THREADS: String(plan.threads),
    CLIPN_MODEL__INTER_OP_THREADS: '1',
    CLIPN_PROCESSING__MAX_BATCH: String(plan.batch),
    CLIPN_PROCESSING__MAX_WAIT_MS: String(maxWaitMs),
    CLIPN_TELEMETRY__LOG_LEVEL: 'info',
    GLIBC_TUNABLES: imageMallocTunables(),
  });
  const serve = await ServeProcess.start(env);
  const stop = async (): Promise<void> => {
    await serve.stop();
    await results.stop();
  };
  try {
    const readySeconds = await serve.ready(1_200_000);
    return { serve, topics, results, stop, readySeconds };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function waitForIds(results: Collector, ids: ReadonlySet<string>, timeoutMs: number, what: string): Promise<Map<string, number>> {
  const got = new Map<string, number>();
  let scanned = 0;
  await results.waitFor(what, (ms) => {
    for (; scanned < ms.length; scanned++) {
      const m = ms[scanned]!;
      const id = idOf(m.headers as Record<string, unknown>);
      if (ids.has(id)) got.set(id, Number(m.timestamp));
    }
    return got.size >= ids.size;
  }, timeoutMs);
  return got;
}

function message(id: string, value: Buffer, timestamp?: number): { key: string; value: Buffer; headers: Record<string, string>; timestamp?: string } {
  return { key: id, value, headers: { 'clipn-id': id, 'content-type': 'image/jpeg' }, ...(timestamp === undefined ? {} : { timestamp: String(timestamp) }) };
}

/** Backlog rounds: images/s between the end of the first batch and the last result. */
async function saturate(producer: Producer, live: LiveServe, jpegs: readonly Buffer[], plan: ServePlan, log: (m: string) => void): Promise<number[]> {
  const rates: number[] = [];
  for (let r = 0; r < plan.saturationRounds; r++) {
    const ids = Array.from({ length: plan.saturationImages }, (_, i) => `sat${r}-${i}`);
    for (let i = 0; i < ids.length; i += 32) {
      await producer.send({ topic: live.topics.input, acks: 1, messages: ids.slice(i, i + 32).map((id, j) => message(id, jpegs[(i + j) % jpegs.length]!)) });
    }
    const produced = Date.now();
    const got = await waitForIds(live.results, new Set(ids), 600_000, `${ids.length} saturation results`);
    const ts = [...got.values()].sort((a, b) => a - b);
    // Results are written a consumed chunk at a time, so they arrive in groups: the rate is
    // taken from the end of the first group (the pipeline filled) to the last result.
    const first = ts.filter((t) => t <= ts[0]! + 50).length;
    const last = ts[ts.length - 1]!;
    rates.push(first < ts.length ? (ts.length - first) / Math.max((last - ts[first - 1]!) / 1000, 1e-3) : ts.length / Math.max((last - produced) / 1000, 1e-3));
    log(`  saturation round ${r + 1}: ${rates[r]!.toFixed(2)} images/s`);
  }
  return rates;
}

/** Paced rounds at `perSecond`: each image's latency in ms. */
async function paced(producer: Producer, live: LiveServe, jpegs: readonly Buffer[], plan: ServePlan, perSecond: number, log: (m: string) => void): Promise<number[][]> {
  const rounds: number[][] = [];
  for (let r = 0; r < plan.latencyRounds; r++) {
    const n = Math.min(400, Math.max(2, Math.round(perSecond * plan.latencySeconds)));
    const sent = new Map<string, number>();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const due = t0 + (i * 1000) / perSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
      const id = `lat${r}-${i}`;
      const now = Date.now();
      sent.set(id, now);
      await producer.send({ topic: live.topics.input, acks: 1, messages: [message(id, jpegs[i % jpegs.length]!, now)] });
    }
    const got = await waitForIds(live.results, new Set(sent.keys()), 300_000, `${n} paced results`);
    const lat = [...got].map(([id, ts]) => ts - sent.get(id)!);
    rounds.push(lat);
    const s = [...lat].sort((a, b) => a - b);
    log(`  latency round ${r + 1}: ${n} images at ${perSecond.toFixed(2)}/s, p50 ${quantile(s, 0.5).toFixed(0)} ms, p99 ${quantile(s, 0.99).toFixed(0)} ms`);
  }
  return rounds;
}

/** One maxWaitMs setting: saturation and latency phases; the sidecar is left running for the caller. */
export async function serveImages(kafka: Kafka, plan: ServePlan, maxWaitMs: number, jpegs: readonly Buffer[], template: string, group: string, log: (m: string) => void): Promise<{ run: ServeRun; live: LiveServe }> {
  const live = await startServe(kafka, plan, maxWaitMs, group, template);
  log(`clipn serve ready in ${live.readySeconds.toFixed(1)} s (maxWaitMs ${maxWaitMs}, batch ${plan.batch})`);
  const producer = kafka.producer();
  await producer.connect();
  try {
    const idle = live.serve.memory();
    // One batch first: the first inference run pays for ONNX Runtime's lazy initialisation.
    await saturate(producer, live, jpegs, { ...plan, saturationImages: plan.batch, saturationRounds: 1 }, () => undefined);
    const scrapeBefore = await live.serve.metrics();
    const before = stageTotals(scrapeBefore);
    const batchBefore = batchTotals(scrapeBefore);
    const rates = await saturate(producer, live, jpegs, plan, log);
    const scrapeAfter = await live.serve.metrics();
    const after = stageTotals(scrapeAfter);
    const batchAfter = batchTotals(scrapeAfter);
    const stages: Record<string, number> = {};
    for (const [stage, v] of after) {
      const b = before.get(stage) ?? { sum: 0, count: 0 };
      if (v.count > b.count) stages[stage] = (v.sum - b.sum) / (v.count - b.count);
    }
    const saturation = summarize(rates);
    const perSecond = Math.max(0.2, saturation.median * plan.latencyLoad);
    const rounds = await paced(producer, live, jpegs, plan, perSecond, log);
    const pct = (q: number): Summary => summarize(rounds.map((l) => quantile([...l].sort((a, b) => a - b), q)));
    const mem = live.serve.memory();
    const loopEnd = eventLoopBuckets(await live.serve.metrics());
    const eventLoop = { saturation: eventLoopSpan(eventLoopBuckets(scrapeBefore), eventLoopBuckets(scrapeAfter)), lifetime: eventLoopSpan(new Map(), loopEnd) };
    return {
      live,
      run: {
        maxWaitMs, readySeconds: live.readySeconds, saturation, offeredPerSecond: perSecond, latencyImages: rounds.reduce((a, l) => a + l.length, 0),
        p50: pct(0.5), p99: pct(0.99), stages, meanBatch: (batchAfter.sum - batchBefore.sum) / Math.max(batchAfter.count - batchBefore.count, 1),
        memory: { idleMiB: idle.rssMiB, afterImagesMiB: mem.rssMiB, peakMiB: mem.peakMiB }, eventLoop,
      },
    };
  } catch (error) {
    await live.stop();
    throw error;
  } finally {
    await producer.disconnect();
  }
}

function batchTotals(samples: readonly Sample[]): { sum: number; count: number } {
  const pick = (suffix: string): number => samples.filter((s) => s.name.startsWith('clipn_batch_size') && s.name.endsWith(suffix)).reduce((a, s) => a + s.value, 0);
  return { sum: pick('_sum'), count: pick('_count') };
}
