/**
 * Label sets going live on a running sidecar: a cold set of many labels (every text encoded by
 * the yes and the no text tower) and one added label with the text-embedding cache warm. Live
 * means the sidecar's label-set version gauge on /metrics shows the new version; the clock
 * starts when the broker acknowledged the LabelSet record. The sidecar's own "label-set
 * applied" log line gives the head-building time and how many texts it encoded.
 */
import type { Kafka } from 'kafkajs';
import { eventLoopBuckets, eventLoopSpan, type EventLoopSpan, type ServeProcess } from './sidecar-process.js';
import { putLabelSet, type LiveServe } from './serve.js';
import { summarize, type Summary } from './stats.js';

export interface LabelPlan {
  labels: number;
  templates: string[];
  coldRounds: number;
  addRounds: number;
}

export interface LabelResults {
  labels: number;
  templates: number;
  cold: Summary;
  coldBuild: Summary;
  coldTexts: number;
  /** Seconds per encoded text (both towers together), from the sidecar's build time. */
  perText: Summary;
  added: Summary;
  addedBuild: Summary;
  addedTexts: number;
  /** The sidecar's event loop (clipn_event_loop_delay) over the cold and added rounds. */
  eventLoop: EventLoopSpan;
}

async function gaugeVersion(serve: ServeProcess, id: string): Promise<number> {
  const samples = await serve.metrics();
  return samples.find((s) => s.name.startsWith('clipn_label_set_version') && s.labels.label_set === id)?.value ?? -1;
}

async function goLive(kafka: Kafka, live: LiveServe, set: { id: string; version: number; labels: string[]; templates: string[] }, pollMs: number, timeoutMs: number): Promise<{ seconds: number; buildMs: number; texts: number }> {
  const from = live.serve.logs.length;
  await putLabelSet(kafka, live.topics.labelSets, set);
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  while ((await gaugeVersion(live.serve, set.id)) !== set.version) {
    if (Date.now() > deadline) throw new Error(`label set ${set.id} v${set.version} not live after ${timeoutMs} ms: ${live.serve.recentLog()}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const seconds = (performance.now() - t0) / 1000;
  const applied = await live.serve.waitForLog(`label-set ${set.id} v${set.version} applied`, (l) => l.msg === 'label-set applied' && l.id === set.id && l.version === String(set.version), 10_000, from);
  return { seconds, buildMs: Number(applied.ms), texts: Number(applied.encodedTexts) };
}

const WORDS = ['apple', 'bridge', 'camera', 'dolphin', 'engine', 'forest', 'guitar', 'harbor', 'island', 'jacket', 'kettle', 'ladder', 'meadow', 'needle', 'orchid', 'pepper', 'quartz', 'rocket', 'saddle', 'tunnel', 'umbrella', 'violin', 'wagon', 'yacht', 'zebra'];

/** `n` distinct plausible labels; `salt` makes a set no earlier round has encoded. */
export function labelNames(n: number, salt: string): string[] {
  return Array.from({ length: n }, (_, i) => `${salt} ${WORDS[i % WORDS.length]} ${WORDS[Math.floor(i / WORDS.length) % WORDS.length]} ${i}`);
}

export async function measureLabelSets(kafka: Kafka, live: LiveServe, plan: LabelPlan, log: (m: string) => void): Promise<LabelResults> {
  const loopBefore = eventLoopBuckets(await live.serve.metrics());
  const cold: number[] = [];
  const coldBuild: number[] = [];
  const perText: number[] = [];
  let coldTexts = 0;
  let last: string[] = [];
  for (let r = 0; r < plan.coldRounds; r++) {
    last = labelNames(plan.labels, `r${r}`);
    const res = await goLive(kafka, live, { id: 'bench', version: r + 1, labels: last, templates: plan.templates }, 100, 3_600_000);
    cold.push(res.seconds);
    coldBuild.push(res.buildMs / 1000);
    perText.push(res.buildMs / 1000 / Math.max(res.texts, 1));
    coldTexts = res.texts;
    log(`  cold ${plan.labels} labels x ${plan.templates.length} template(s): live in ${res.seconds.toFixed(1)} s (built in ${(res.buildMs / 1000).toFixed(1)} s, ${res.texts} texts)`);
  }
  const added: number[] = [];
  const addedBuild: number[] = [];
  let addedTexts = 0;
  for (let a = 0; a < plan.addRounds; a++) {
    last = [...last, `added label ${a}`];
    const res = await goLive(kafka, live, { id: 'bench', version: plan.coldRounds + a + 1, labels: last, templates: plan.templates }, 5, 120_000);
    added.push(res.seconds);
    addedBuild.push(res.buildMs / 1000);
    addedTexts = res.texts;
    log(`  one added label (${last.length} labels, warm cache): live in ${(res.seconds * 1000).toFixed(0)} ms (built in ${res.buildMs} ms, ${res.texts} texts)`);
  }
  const eventLoop = eventLoopSpan(loopBefore, eventLoopBuckets(await live.serve.metrics()));
  return {
    eventLoop,
    labels: plan.labels, templates: plan.templates.length, cold: summarize(cold), coldBuild: summarize(coldBuild), coldTexts,
    perText: summarize(perText), added: summarize(added), addedBuild: summarize(addedBuild), addedTexts,
  };
}
