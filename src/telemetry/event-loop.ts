/**
 * A watch on the event loop for /healthz: a timer that should fire every `tickMs` notes how
 * late it fired. A stall of `blockedMs` or more (a synchronous loop over hostile input, a huge
 * allocation) fails the check for `windowMs` after it ended, so a liveness probe sees it even
 * though the probe itself could only be answered once the loop was free again. Every tick's
 * lateness also goes to `hooks.delay` (the clipn.event_loop.delay metric), so operators can see
 * how long the loop is held in their deployment before they tune `blockedMs`.
 */
import type { HealthCheck } from './types.js';

/** Options of {@link watchEventLoop}. */
export interface EventLoopWatchOptions {
  blockedMs: number;
  windowMs: number;
  /** Timer period (default 100 ms). */
  tickMs?: number;
}

/** Callbacks of {@link watchEventLoop}. */
export interface EventLoopHooks {
  /** A stall of `blockedMs` or more ended; `ms` is how late the timer fired. */
  stall?: (ms: number) => void;
  /** Every tick: how late the timer fired, in ms (0 when on time). */
  delay?: (ms: number) => void;
}

/** Starts the watch; returns a function that stops it. The timer never keeps the process alive. */
export function watchEventLoop(check: HealthCheck, options: EventLoopWatchOptions, hooks: EventLoopHooks = {}): () => void {
  const tick = options.tickMs ?? 100;
  let expected = performance.now() + tick;
  let failingUntil = 0;
  check.ready();
  const timer = setInterval(() => {
    const now = performance.now();
    const late = Math.max(0, now - expected);
    expected = now + tick;
    hooks.delay?.(late);
    if (late >= options.blockedMs) {
      failingUntil = now + options.windowMs;
      check.notReady(`the event loop was blocked for ${Math.round(late)} ms (limit ${options.blockedMs} ms), ${Math.round(options.windowMs / 1000)} s ago at most`);
      hooks.stall?.(late);
    } else if (failingUntil !== 0 && now >= failingUntil) {
      failingUntil = 0;
      check.ready();
    }
  }, tick);
  timer.unref();
  return () => clearInterval(timer);
}
