/**
 * Soak: `clipn serve` under a steady paced load (half of its saturation rate) for minutes,
 * sampling its resident memory and the p99 end-to-end latency every 10 s. What it answers:
 * does memory creep (RSS slope after warm-up) and does latency drift over time.
 */
import type { Kafka } from 'kafkajs';
import { startServe, type ServePlan } from './serve.js';
import { quantile } from './stats.js';

/** One 10-s sample. */
export interface SoakSample {
  /** Seconds since the load started. */
  t: number;
  rssMiB: number;
  /** Results in the window, and the p99 of their latency (input timestamp to result timestamp). */
  results: number;
  p99Ms: number;
}

export interface SoakRun {
  minutes: number;
  offeredPerSecond: number;
  warmupMinutes: number;
  samples: SoakSample[];
  /** Least-squares slope of RSS over the samples after warm-up, MiB per minute. */
  rssSlopeMiBPerMin: number;
  /** p99 latency of each whole minute's results. */
  p99PerMinute: number[];
  produced: number;
  /** Produced inputs with no result when the soak ended (after a drain of up to 60 s). */
  missing: number;
}

/** Least-squares slope of y over x. */
export function slope(x: readonly number[], y: readonly number[]): number {
  const n = x.length;
  if (n < 2) return Number.NaN;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i]! - mx) * (y[i]! - my);
    den += (x[i]! - mx) ** 2;
  }
  return den === 0 ? Number.NaN : num / den;
}

/** Runs the soak on a fresh sidecar (maxWaitMs 5) at `perSecond` for `minutes`. */
export async function soak(kafka: Kafka, plan: ServePlan, jpegs: readonly Buffer[], perSecond: number, minutes: number, log: (m: string) => void, warmupMinutes = 2): Promise<SoakRun> {
  const live = await startServe(kafka, plan, 5, `bench-soak-${Date.now()}`, 'a photo of a {}.');
  const producer = kafka.producer();
  await producer.connect();
  const sent = new Map<string, number>();
  const latencies: Array<{ at: number; ms: number }> = [];
  const answered = new Set<string>();
  let scanned = 0;
  const drainResults = (): void => {
    for (; scanned < live.results.messages.length; scanned++) {
      const m = live.results.messages[scanned]!;
      const id = String(m.headers?.['clipn-id'] ?? '');
      const at = sent.get(id);
      if (at === undefined || answered.has(id)) continue;
      answered.add(id);
      latencies.push({ at: Number(m.timestamp), ms: Number(m.timestamp) - at });
    }
  };
  const samples: SoakSample[] = [];
  try {
    const t0 = Date.now();
    const end = t0 + minutes * 60_000;
    let nextSample = t0 + 10_000;
    let i = 0;
    while (Date.now() < end) {
      const due = t0 + (i * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, Math.min(wait, nextSample - Date.now())));
      if (Date.now() >= due) {
        const id = `soak-${i}`;
        const now = Date.now();
        sent.set(id, now);
        await producer.send({ topic: live.topics.input, acks: 1, messages: [{ key: id, value: jpegs[i % jpegs.length]!, headers: { 'clipn-id': id, 'content-type': 'image/jpeg' }, timestamp: String(now) }] });
        i++;
      }
      if (Date.now() >= nextSample) {
        drainResults();
        const window = latencies.filter((l) => l.at >= nextSample - 10_000 && l.at < nextSample).map((l) => l.ms).sort((a, b) => a - b);
        const sample = { t: Math.round((nextSample - t0) / 1000), rssMiB: live.serve.memory().rssMiB, results: window.length, p99Ms: quantile(window, 0.99) };
        samples.push(sample);
        if (sample.t % 60 === 0) log(`  soak ${sample.t / 60} min: RSS ${sample.rssMiB.toFixed(0)} MiB, p99 ${sample.p99Ms.toFixed(0)} ms over the last 10 s`);
        nextSample += 10_000;
      }
    }
    const ids = new Set(sent.keys());
    await live.results.waitFor('the soak drained', () => {
      drainResults();
      return answered.size >= ids.size;
    }, 60_000).catch(() => undefined);
    drainResults();
    const after = samples.filter((s) => s.t > warmupMinutes * 60);
    const p99PerMinute = Array.from({ length: minutes }, (_, m) => {
      const w = latencies.filter((l) => l.at >= t0 + m * 60_000 && l.at < t0 + (m + 1) * 60_000).map((l) => l.ms).sort((a, b) => a - b);
      return quantile(w, 0.99);
    });
    return {
      minutes,
      offeredPerSecond: perSecond,
      warmupMinutes,
      samples,
      rssSlopeMiBPerMin: slope(after.map((s) => s.t / 60), after.map((s) => s.rssMiB)),
      p99PerMinute,
      produced: ids.size,
      missing: ids.size - answered.size,
    };
  } finally {
    await producer.disconnect();
    await live.stop();
  }
}

/** The soak's section of bench/RESULTS.md. */
export function soakMarkdown(run: SoakRun): string {
  const rows = run.samples.map((s) => `| ${s.t} | ${s.rssMiB.toFixed(1)} | ${s.results} | ${Number.isFinite(s.p99Ms) ? s.p99Ms.toFixed(0) : 'n/a'} |`).join('\n');
  return [
    `## Soak: ${run.minutes} minutes at ${run.offeredPerSecond.toFixed(2)} images/s (half of saturation)`,
    '',
    `RSS slope after the first ${run.warmupMinutes} minutes: **${run.rssSlopeMiBPerMin.toFixed(2)} MiB per minute** (goal: under 1). ` +
      `${run.produced} inputs, ${run.missing} without a result at the end.`,
    '',
    `p99 latency per minute (ms): ${run.p99PerMinute.map((p) => (Number.isFinite(p) ? p.toFixed(0) : 'n/a')).join(', ')}`,
    '',
    '| t (s) | RSS (MiB) | results in the last 10 s | p99 (ms) |',
    '| --- | --- | --- | --- |',
    rows,
    '',
  ].join('\n');
}

/** Replaces the "## Soak" section of `text` (up to the next "## " heading) with `section`, or appends it. */
export function spliceSoakSection(text: string, section: string): string {
  const start = text.search(/^## Soak/m);
  if (start < 0) return `${text.trimEnd()}\n\n${section}`;
  const rest = text.slice(start + 1).search(/^## /m);
  return text.slice(0, start) + section + (rest < 0 ? '' : `\n${text.slice(start + 1 + rest)}`);
}

/** The soak section of an earlier RESULTS.md kept in a newly written one (a bench run without the soak). */
export function keepSoakSection(previous: string, next: string): string {
  const start = previous.search(/^## Soak/m);
  if (start < 0) return next;
  const rest = previous.slice(start + 1).search(/^## /m);
  return spliceSoakSection(next, previous.slice(start, rest < 0 ? undefined : start + 1 + rest).trimEnd() + '\n');
}
