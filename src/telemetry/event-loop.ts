/**
 * A watch on the event loop for /healthz: a timer that should fire every `tickMs` notes how
 * late it fired. A stall of `blockedMs` or more (a synchronous loop over hostile input, a huge
 * allocation) fails the check for `windowMs` after it ended, so a liveness probe sees it even
 * though the probe itself could only be answered once the loop was free again.
 */
import type { HealthCheck } from './types.js';

/** Options of {@link watchEventLoop}. */
export interface EventLoopWatchOptions {
  blockedMs: number;
  windowMs: number;
  /** Timer period (default 100 ms). */
  tickMs?: number;
}

/** Starts the watch; returns a function that stops it. The timer never keeps the process alive. */
export function watchEventLoop(check: HealthCheck, options: EventLoopWatchOptions, onStall?: (ms: number) => void): () => void {
  const tick = options.tickMs ?? 100;
  let expected = performance.now() + tick;
  let failingUntil = 0;
  check.ready();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = now - expected;
    expected = now + tick;
    if (late >= options.blockedMs) {
      failingUntil = now + options.windowMs;
      check.notReady(`the event loop was blocked for ${Math.round(late)} ms (limit ${options.blockedMs} ms), ${Math.round(options.windowMs / 1000)} s ago at most`);
      onStall?.(late);
    } else if (failingUntil !== 0 && now >= failingUntil) {
      failingUntil = 0;
      check.ready();
    }
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}
