/**
 * A memory budget in bytes: work reserves what it will hold (an input value, a fetched body,
 * decoded pixels) before it holds it, and waits while the budget is spent. Waiters are served
 * in arrival order, so a large reservation is not starved by small ones; one reservation larger
 * than the whole budget runs alone once everything else has been released.
 */
import { ClipnError } from '../errors.js';

interface Waiter {
  bytes: number;
  resolve: () => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** Bytes held by one piece of work; resizable, released once. */
export interface Reservation {
  /** Bytes held now. */
  readonly bytes: number;
  /** Changes what is held without waiting (a fetched body turned out smaller, pixels became a tensor). */
  resize(bytes: number): void;
  /** Gives everything back; later calls do nothing. */
  release(): void;
}

export class ByteBudget {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new ClipnError('CONFIG_INVALID', `byte budget: expected an integer >= 1, got ${capacity}`);
  }

  /** Bytes reserved now. */
  get inUse(): number {
    return this.used;
  }

  /** Reservations waiting for room. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Waits for room for `bytes`, then holds them; rejects with the signal's reason when it aborts first. */
  async reserve(bytes: number, signal?: AbortSignal): Promise<Reservation> {
    const want = Math.max(0, Math.ceil(bytes));
    if (signal?.aborted) throw signal.reason;
    if (this.waiters.length === 0 && this.fits(want)) this.used += want;
    else await this.enqueue(want, signal);
    return this.reservation(want);
  }

  private fits(bytes: number): boolean {
    return this.used + bytes <= this.capacity || this.used === 0;
  }

  private enqueue(bytes: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal!.reason);
          this.wake();
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.bytes)) {
      const next = this.waiters.shift()!;
      next.signal?.removeEventListener('abort', next.onAbort);
      this.used += next.bytes;
      next.resolve();
    }
  }

  private reservation(initial: number): Reservation {
    let held = initial;
    let released = false;
    const budget = this;
    return {
      get bytes() {
        return released ? 0 : held;
      },
      resize(bytes: number) {
        if (released) return;
        const next = Math.max(0, Math.ceil(bytes));
        budget.used += next - held;
        held = next;
        budget.wake();
      },
      release() {
        if (released) return;
        released = true;
        budget.used -= held;
        held = 0;
        budget.wake();
      },
    };
  }
}
