import { performance } from 'node:perf_hooks';
import type { SchedulerLike } from 'rxjs';
import { FRAME_MS } from './audioFormat';
import { recordTickLateness } from './sendLateness';

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
  /**
   * Calls `onTick` on every tick until the returned function is called.
   *
   * `afterTick` (optional) runs in the same tick after the `onTick` of every listener: the
   * time-critical work (sending what was prepared) goes in `onTick`, the rest (preparing the
   * next packet) in `afterTick`, so that a tick's packets leave in one tight burst. Clocks
   * may ignore it (then a listener must still work from `onTick` alone).
   */
  add(onTick: (tick: ClockTick) => void, afterTick?: (tick: ClockTick) => void): () => void;
}

/** Options of {@link createHighResolutionClock}. */
export interface HighResolutionClockOptions {
  /** Default 20. */
  frameMs?: number;
  /**
   * The last part of each wait, ms: timers fire up to ~1 ms late, so the timer is set this
   * much before the deadline and the rest is slept precisely (`Atomics.wait`, which blocks
   * the thread without using CPU; the event loop pauses for up to `spinMs` + 1 ms per tick).
   * 0: timers only. Default 1.
   */
  spinMs?: number;
}

/** Blocks the thread for `ms` (sub-millisecond precision, no CPU use). */
const sleepLock = new Int32Array(new SharedArrayBuffer(4));
function sleepPrecisely(ms: number): void {
  if (ms > 0) Atomics.wait(sleepLock, 0, 0, ms);
}

/**
 * A clock on `performance.now()` (monotonic). It runs only while it has listeners.
 * Errors thrown by a listener are reported with `process.emitWarning` and do not stop
 * the clock or other listeners.
 *
 * One timer serves every listener. Each wait is a `setTimeout` to `spinMs` before the
 * deadline, then a precise sleep for the remainder (no busy-waiting: an idle clock costs
 * one or two timer wake-ups per tick, and blocks the event loop ~`spinMs` per tick).
 */
export function createHighResolutionClock(options: HighResolutionClockOptions = {}): VoiceClock {
  const frameMs = options.frameMs ?? FRAME_MS;
  const spinMs = Math.max(0, options.spinMs ?? 1);
  const listeners = new Set<(tick: ClockTick) => void>();
  const afterListeners = new Set<(tick: ClockTick) => void>();
  let start = 0;
  let lastIndex = -1;
  let timer: NodeJS.Timeout | null = null;
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
    // How late this tick's sends ended (the driver's pacing figure, `voiceDriverStats`).
    recordTickLateness(performance.now() - tick.deadline, tick.skipped, frameMs);
    for (const listener of afterListeners) {
      try {
        listener(tick);
      } catch (err) {
        process.emitWarning(`rxvoice clock listener threw: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };

  // Timers count whole milliseconds and can fire up to ~1 ms before their time: woken with
  // more than this left, wait again; within it, sleep the rest (a new timer could overshoot).
  const rearmAbove = spinMs > 0 ? spinMs + 1 : 0;

  const wait = (): void => {
    timer = null;
    if (!running) return;
    const due = start + (lastIndex + 1) * frameMs;
    let now = performance.now();
    if (due - now > rearmAbove) {
      schedule();
      return;
    }
    if (now < due) {
      sleepPrecisely(due - now);
      now = performance.now();
    }
    // On time, or late: run the newest due tick only (no burst after a stall).
    fire(Math.max(lastIndex + 1, Math.floor((now - start) / frameMs)), now);
    if (running) schedule();
  };

  /** Arms the timer for `spinMs` before the next deadline. */
  const schedule = (): void => {
    const due = start + (lastIndex + 1) * frameMs;
    timer = setTimeout(wait, Math.max(0, due - spinMs - performance.now()));
  };

  return {
    frameMs,
    now: () => performance.now(),
    add(onTick, afterTick) {
      listeners.add(onTick);
      if (afterTick) afterListeners.add(afterTick);
      if (!running) {
        running = true;
        start = performance.now();
        lastIndex = -1;
        // Tick 0 is "now": a new stream may send its first frame at once.
        queueMicrotask(() => {
          if (running) {
            fire(0, performance.now());
            if (running && !timer) schedule();
          }
        });
      }
      return () => {
        listeners.delete(onTick);
        if (afterTick) afterListeners.delete(afterTick);
        if (listeners.size === 0 && running) {
          running = false;
          if (timer) clearTimeout(timer);
          timer = null;
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
    add(onTick, afterTick) {
      const start = scheduler.now();
      let index = 0;
      let stopped = false;
      const sub = scheduler.schedule(function (this: { schedule(state?: unknown, delay?: number): void }) {
        if (stopped) return;
        const now = scheduler.now();
        const tick: ClockTick = { index, deadline: start + index * frameMs, now, skipped: 0 };
        onTick(tick);
        if (!stopped) afterTick?.(tick);
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
