/**
 * A counting semaphore for in-flight images. Workers take slots before they start work on a
 * message and give them back once its records are delivered; when none are free the caller
 * is told to wait, which the partition worker turns into a paused partition (backpressure).
 */
export class Slots {
  private used = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  /** Slots in use now. */
  get inUse(): number {
    return this.used;
  }

  /** Takes up to `want` slots if any are free now; 0 means none was free. */
  tryTake(want: number): number {
    const n = Math.min(want, this.capacity - this.used);
    if (n <= 0) return 0;
    this.used += n;
    return n;
  }

  /** Resolves when at least one slot is free (it does not take it). */
  whenFree(): Promise<void> {
    if (this.used < this.capacity) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Gives back `n` slots and wakes the waiters. */
  give(n: number): void {
    this.used = Math.max(0, this.used - n);
    for (const wake of this.waiters.splice(0)) wake();
  }
}
