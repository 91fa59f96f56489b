/**
 * What the input consumer is doing, from kafkajs' events, as /readyz and /healthz report it:
 * ready only while it runs, is a member of its group and has heard from the broker recently;
 * unhealthy once it crashed and will not restart. Crashes kafkajs would restart are bounded
 * (kafka.consumer.maxRestarts within restartWindowMs): past the bound the crash is fatal, so the
 * process exits and the orchestrator restarts it rather than leaving a pod that does nothing.
 * A member that has heard nothing from the broker for stallRestartMs is replaced the same way:
 * kafkajs retries a dead coordinator or leader for a minute or more before it crashes, and a new
 * consumer finds the new coordinator at once.
 */
import type { Consumer } from '../kafka/index.js';
import { ClipnError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';
import type { HealthCheck } from '../telemetry/types.js';

/** Options of {@link ConsumerState} (kafka.consumer). */
export interface ConsumerStateOptions {
  staleAfterMs: number;
  /** Silence of a group member after which a new consumer replaces it (0: never). */
  stallRestartMs: number;
  maxRestarts: number;
  restartWindowMs: number;
}

/** The partitions this member owns, by topic. */
export type Assignment = ReadonlyMap<string, ReadonlySet<number>>;

export class ConsumerState {
  private running = false;
  private member = false;
  private lastFetch = 0;
  private lastHeartbeat = 0;
  private batches = 0;
  private crash: string | null = null;
  private restarts: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private fatalError: ClipnError | null = null;
  private stoppingOnPurpose = false;
  private replacing = false;

  constructor(
    private readonly readiness: HealthCheck,
    private readonly liveness: HealthCheck,
    private readonly options: ConsumerStateOptions,
    private readonly logger: Logger,
    private readonly hooks: { onFatal(error: ClipnError): void; onAssignment?(assignment: Assignment): void; onRestart?(): void },
  ) {
    liveness.ready();
  }

  /** The crash that ended consumption for good, if any. */
  get fatal(): ClipnError | null {
    return this.fatalError;
  }

  /** Whether the consumer runs, is a group member and has heard from the broker within staleAfterMs. */
  get ready(): boolean {
    return this.reason() === null;
  }

  /** kafkajs' restartOnFailure: restart while the bound allows. */
  readonly restartOnFailure = async (error: Error): Promise<boolean> => this.mayRestart(error);

  private mayRestart(error: unknown): boolean {
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < this.options.restartWindowMs);
    this.restarts.push(now);
    const allowed = this.restarts.length <= this.options.maxRestarts;
    this.logger.warn({ err: error, restarts: this.restarts.length, maxRestarts: this.options.maxRestarts, windowMs: this.options.restartWindowMs }, allowed ? 'consumer crashed; restarting it' : 'consumer crashed too often; not restarting');
    return allowed;
  }

  /** The processor's own restart of a crashed consumer failed: consumption is over. */
  restartFailed(error: ClipnError): void {
    this.die(error.message, error);
  }

  private die(message: string, cause: unknown): void {
    this.running = false;
    this.crash = `crashed for good: ${message}`;
    this.fatalError = new ClipnError('KAFKA_ERROR', `the input consumer crashed and will not restart: ${message}`, { cause, retriable: false });
    this.liveness.notReady(this.crash);
    this.update();
    this.logger.error({ err: cause }, 'input consumer crashed for good');
    this.hooks.onFatal(this.fatalError);
  }

  /** Follows `consumer`'s events; call before consumer.run(). */
  attach(consumer: Consumer): void {
    const fetched = (): void => {
      this.lastFetch = Date.now();
    };
    const beat = (): void => {
      this.lastHeartbeat = Date.now();
    };
    const e = consumer.events;
    consumer.on(e.GROUP_JOIN, ({ payload }) => {
      // kafkajs' own restart after a crash emits STOP first and no start event: a join means it runs.
      this.running = !this.stoppingOnPurpose;
      this.member = true;
      this.crash = null;
      this.replacing = false;
      fetched();
      const assignment = new Map<string, Set<number>>(Object.entries(payload.memberAssignment).map(([topic, partitions]) => [topic, new Set(partitions)]));
      this.hooks.onAssignment?.(assignment);
    });
    consumer.on(e.REBALANCING, () => {
      this.member = false;
    });
    consumer.on(e.FETCH, fetched);
    consumer.on(e.HEARTBEAT, beat);
    consumer.on(e.COMMIT_OFFSETS, beat);
    consumer.on(e.START_BATCH_PROCESS, () => void this.batches++);
    consumer.on(e.END_BATCH_PROCESS, () => void (this.batches = Math.max(0, this.batches - 1)));
    consumer.on(e.STOP, () => {
      this.running = false;
      this.member = false;
    });
    consumer.on(e.CRASH, ({ payload }) => {
      this.member = false;
      const message = payload.error?.message ?? String(payload.error);
      if (payload.restart) {
        this.crash = `crashed (${message}); restarting`;
        return;
      }
      // kafkajs gives up on errors it calls non-retriable; some are transient on a cluster. The
      // processor restarts the consumer itself while the same bound allows, else it is over.
      if (this.hooks.onRestart && this.mayRestart(payload.error)) {
        this.crash = `crashed (${message}); starting a new consumer`;
        this.hooks.onRestart();
        return;
      }
      this.die(message, payload.error);
    });
    this.running = true;
    this.replacing = false;
    clearInterval(this.timer);
    this.timer = setInterval(() => this.update(), 250);
    this.timer.unref();
  }

  /** Consumption is ending on purpose (shutdown): not ready, not a failure. */
  stopping(): void {
    this.stoppingOnPurpose = true;
    this.running = false;
    this.update();
    clearInterval(this.timer);
  }

  /** How long a running group member has heard nothing from the broker (0 when not one). */
  private silentMs(): number {
    if (this.crash !== null || !this.running || !this.member) return 0;
    // Consuming means fetches answered; while batches are worked on (no fetch needed), heartbeats.
    const lastSign = this.batches > 0 ? Math.max(this.lastFetch, this.lastHeartbeat) : this.lastFetch;
    return Date.now() - lastSign;
  }

  private reason(): string | null {
    if (this.crash !== null) return this.crash;
    if (!this.running) return 'not consuming';
    if (!this.member) return 'not a member of its group (joining or rebalancing)';
    const silent = this.silentMs();
    if (silent > this.options.staleAfterMs) {
      return this.batches > 0 ? `no heartbeat answered for ${Math.round(silent / 1000)} s while processing` : `no fetch answered for ${Math.round(silent / 1000)} s`;
    }
    return null;
  }

  private update(): void {
    const reason = this.reason();
    if (reason !== null && this.options.stallRestartMs > 0 && this.silentMs() > this.options.stallRestartMs) this.replace(reason);
    else if (reason === null) this.readiness.ready();
    else this.readiness.notReady(reason);
  }

  /** Replaces a stalled member with a new consumer (once per stall), within the restart bound. */
  private replace(reason: string): void {
    if (this.replacing || !this.hooks.onRestart) {
      this.readiness.notReady(reason);
      return;
    }
    this.replacing = true;
    const error = new ClipnError('KAFKA_ERROR', `the input consumer stalled: ${reason}`, { retriable: true });
    if (!this.mayRestart(error)) {
      this.die(error.message, error);
      return;
    }
    this.member = false;
    this.crash = `stalled (${reason}); starting a new consumer`;
    this.readiness.notReady(this.crash);
    this.hooks.onRestart();
  }
}
