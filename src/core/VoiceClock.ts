import { performance } from 'node:perf_hooks';
import type { SchedulerLike } from 'rxjs';
import { FRAME_MS } from './audioFormat';

/** One tick of a {@link VoiceClock}. Times are ms on the clock's time base. */
export interface ClockTick {
  /** Tick number since the clock started (0, 1, 2 …). */
  readonly index: number;
  /** When this tick was due. */
  readonly deadline: number;
  /** When it actually ran. */
  readonly now: number;
  /**
   * Ticks that were due but skipped before this one because the event loop stalled for
   * longer than a frame. The clock never bursts to catch up: listeners see one tick with
   * `skipped > 0` and decide (rxvoice's sinks count those frames as late and advance the
   * RTP timestamp by the gap, so receivers hear a short pause rather than sped-up audio).
   */
  readonly skipped: number;
}

/**
 * A 20 ms metronome shared by many streams (songbird's "one clock for many calls"): one
 * timer per process instead of one per connection, ticks on absolute deadlines
 * `start + index × frameMs`, never drifts.
 */
export interface VoiceClock {
  readonly frameMs: number;
  /** Current time on the clock's time base, ms. */
  now(): number;
  /** Calls `onTick` on every tick until the returned function is called. */
  add(onTick: (tick: ClockTick) => void): () => void;
}

/** Options of {@link createHighResolutionClock}. */
export interface HighResolutionClockOptions {
  /** Default 20. */
  frameMs?: number;
  /**
   * The last part of each wait, ms, is spent yielding with `setImmediate` instead of a
   * timer, for sub-millisecond precision (timers fire up to ~1 ms late). Default 1.
   */
  spinMs?: number;
}

/**
 * A clock on `performance.now()` (monotonic). It runs only while it has listeners.
 * Errors thrown by a listener are reported with `process.emitWarning` and do not stop
 * the clock or other listeners.
 */
export function createHighResolutionClock(options: HighResolutionClockOptions = {}): VoiceClock {
  const frameMs = options.frameMs ?? FRAME_MS;
  const spinMs = options.spinMs ?? 1;
  const listeners = new Set<(tick: ClockTick) => void>();
  let start = 0;
  let lastIndex = -1;
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let running = false;

  const fire = (index: number, now: number): void => {
    const tick: ClockTick = { index, deadline: start + index * frameMs, now, skipped: Math.max(0, index - lastIndex - 1) };
    lastIndex = index;
    for (const listener of listeners) {
      try {
        listener(tick);
      } catch (err) {
        process.emitWarning(`rxvoice clock listener threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };

  const wait = (): void => {
    timer = null;
    immediate = null;
    if (!running) return;
    const now = performance.now();
    const nextIndex = lastIndex + 1;
    const due = start + nextIndex * frameMs;
    if (now >= due) {
      // On time, or late: run the newest due tick only (no burst after a stall).
      fire(Math.floor((now - start) / frameMs), now);
      if (!running) return;
      schedule();
      return;
    }
    schedule();
  };

  const schedule = (): void => {
    const due = start + (lastIndex + 1) * frameMs;
    const left = due - performance.now();
    if (left > spinMs) timer = setTimeout(wait, Math.max(0, left - spinMs));
    else immediate = setImmediate(wait);
  };

  return {
    frameMs,
    now: () => performance.now(),
    add(onTick) {
      listeners.add(onTick);
      if (!running) {
        running = true;
        start = performance.now();
        lastIndex = -1;
        // Tick 0 is "now": a new stream may send its first frame at once.
        queueMicrotask(() => {
          if (running) {
            fire(0, performance.now());
            if (running && !timer && !immediate) schedule();
          }
        });
      }
      return () => {
        listeners.delete(onTick);
        if (listeners.size === 0 && running) {
          running = false;
          if (timer) clearTimeout(timer);
          if (immediate) clearImmediate(immediate);
          timer = null;
          immediate = null;
        }
      };
    },
  };
}

let shared: VoiceClock | null = null;

/** The process-wide clock every voice sink uses unless told otherwise. */
export function sharedVoiceClock(): VoiceClock {
  shared ??= createHighResolutionClock();
  return shared;
}

/**
 * A clock driven by an RxJS scheduler (e.g. `TestScheduler` in marble tests): ticks at
 * `scheduler.now()`-based absolute deadlines. Never skips ticks.
 */
export function schedulerClock(scheduler: SchedulerLike, frameMs = FRAME_MS): VoiceClock {
  return {
    frameMs,
    now: () => scheduler.now(),
    add(onTick) {
      const start = scheduler.now();
      let index = 0;
      let stopped = false;
      const sub = scheduler.schedule(function (this: { schedule(state?: unknown, delay?: number): void }) {
        if (stopped) return;
        const now = scheduler.now();
        onTick({ index, deadline: start + index * frameMs, now, skipped: 0 });
        index++;
        if (!stopped) this.schedule(undefined, Math.max(0, start + index * frameMs - scheduler.now()));
      }, 0);
      return () => {
        stopped = true;
        sub.unsubscribe();
      };
    },
  };
}
