/** Statistics of repeated measurements: median with min-max and interquartile range. */

/** A summary of repeated measurements of one quantity. */
export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
}

/** Linear-interpolated quantile (q in [0,1]) of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return { n: s.length, median: quantile(s, 0.5), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN, q1: quantile(s, 0.25), q3: quantile(s, 0.75) };
}

/** A number with about three significant digits. */
export function num(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return 'n/a';
  const abs = Math.abs(v);
  if (abs >= 10 ** digits) return Math.round(v).toString();
  return Number(v.toPrecision(digits)).toString();
}

/** "12.3 (11.9-12.8, n=5)": the median, then min-max over the runs. */
export function fmt(s: Summary, unit = ''): string {
  if (s.n === 0) return 'n/a';
  const u = unit ? ` ${unit}` : '';
  if (s.n === 1) return `${num(s.median)}${u} (n=1)`;
  return `${num(s.median)}${u} (${num(s.min)}-${num(s.max)}, n=${s.n})`;
}

/** Ratio of two medians, e.g. "1.23x". */
export function ratio(a: Summary, b: Summary): string {
  return `${num(a.median / b.median)}x`;
}

/** Runs `fn` once untimed, then `reps` times; returns each run's seconds. */
export async function timeRuns(reps: number, fn: () => Promise<unknown>, warmup = 1): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    out.push((performance.now() - t0) / 1000);
  }
  return out;
}
