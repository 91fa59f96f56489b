/**
 * The trainer's instruments: runs, published and refused releases through the shared
 * {@link Metrics}, and its own gauges (samples stored, new samples, the last gate numbers, the
 * kernel's loss) read at each collection.
 */
import type { Counter, Histogram, Meter, ObservableResult } from '@opentelemetry/api';
import type { RefusalReason } from './sample-check.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { GateMetrics, KernelEvent, RunStatus, StoreCounts } from './types.js';

/** Trainer metrics, one instance per trainer. */
export class TrainerMetrics {
  private counts: StoreCounts | null = null;
  private last: { candidate: GateMetrics; serving: GateMetrics } | null = null;
  private loss: { epoch: number; loss: number } | null = null;
  private readonly runSeconds: Histogram;
  private readonly refusals: Counter;

  constructor(
    meter: Meter,
    private readonly shared: Metrics,
  ) {
    this.runSeconds = meter.createHistogram('clipn.trainer.run.duration', { unit: 's', description: 'Duration of a training run (kernel, gate and publish), by status', advice: { explicitBucketBoundaries: [1, 5, 10, 30, 60, 300, 900, 3600, 10800] } });
    this.refusals = meter.createCounter('clipn.trainer.samples.refused', { unit: '{item}', description: 'Review items the trainer refused, by reason (dimension, not_finite, norm, replaced)' });
    meter.createObservableGauge('clipn.trainer.samples', { unit: '{sample}', description: 'Samples in the trainer\'s store, by state (joined, pending_item, pending_decision, new)' }).addCallback((r: ObservableResult) => {
      if (this.counts === null) return;
      r.observe(this.counts.samples, { state: 'joined' });
      r.observe(this.counts.pendingItems, { state: 'pending_item' });
      r.observe(this.counts.pendingDecisions, { state: 'pending_decision' });
      r.observe(this.counts.newSinceRun, { state: 'new' });
    });
    meter.createObservableGauge('clipn.trainer.gate.metric', { unit: '1', description: 'Held-out numbers of the last gated run, by model (candidate, serving) and metric' }).addCallback((r: ObservableResult) => {
      if (this.last === null) return;
      for (const [model, m] of Object.entries(this.last)) {
        for (const metric of ['atdAuroc', 'ctwAuroc', 'atdFpr95', 'ctwFpr95', 'idAccuracy'] as const) {
          const v = m[metric];
          if (v !== null) r.observe(v, { model, metric });
        }
      }
    });
    meter.createObservableGauge('clipn.trainer.kernel.loss', { unit: '1', description: 'Training loss of the latest kernel epoch' }).addCallback((r: ObservableResult) => {
      if (this.loss !== null) r.observe(this.loss.loss);
    });
  }

  /** The store's counts changed. */
  store(counts: StoreCounts): void {
    this.counts = counts;
  }

  /** The store refused a review item. */
  refused(reason: RefusalReason): void {
    this.refusals.add(1, { reason });
  }

  /** A run started. */
  runStarted(): void {
    this.shared.trainerRunStarted();
  }

  /** A kernel progress event. */
  kernelEvent(e: KernelEvent): void {
    if (e.event === 'epoch' && typeof e.loss === 'number') this.loss = { epoch: Number(e.epoch), loss: e.loss };
  }

  /** The gate compared a candidate with the serving model. */
  gated(candidate: GateMetrics, serving: GateMetrics): void {
    this.last = { candidate, serving };
  }

  /** A run ended (or failed: status `failed`). */
  runEnded(status: RunStatus | 'failed', seconds: number, refusedReason?: string): void {
    this.runSeconds.record(seconds, { status });
    if (status === 'published') this.shared.trainerReleasePublished();
    if (status === 'refused') this.shared.trainerReleaseRefused(refusedReason ?? 'gate');
  }
}
