import { LATENESS_BUCKETS, latenessSummary, readTickLateness } from '../core/sendLateness';
import { driverThreads } from './internal/DriverPool';

/**
 * Pacing of the voice driver: how late the 20 ms clock ticks finished sending, over every
 * clock of the process (driver threads and the main thread), from {@link voiceDriverStats}.
 */
export interface VoiceDriverStats {
  /** Driver threads alive (0 when everything runs on the main thread). */
  readonly threads: number;
  /** Clock ticks in the window (every clock with listeners ticks every 20 ms; stalls count each skipped tick). */
  readonly ticks: number;
  /**
   * How late each tick's sends ended after the tick's deadline, ms (0.1 ms resolution; 100
   * stands for "100 or more"); null without ticks in the window. This is the lateness of the
   * last packet a tick sent: what a voice server sees as pacing error, plus network delay.
   */
  readonly sendLatenessMs: { readonly p50: number; readonly p99: number; readonly max: number } | null;
  /**
   * The cumulative histogram behind these figures (0.1 ms buckets). Pass this object as
   * `since` to the next call to get the figures of the window between the two calls.
   */
  readonly histogram: readonly number[];
}

/**
 * Reads the voice driver's pacing: the lateness of every 20 ms clock tick on the driver
 * threads and on the main thread (in-process connections), since the process started or
 * since `since`.
 *
 * @param options.since an earlier result: figures for the window between it and now.
 * @returns after every driver thread answered (or 1 s passed for one that does not).
 * @example
 * ```ts
 * let last = await voiceDriverStats();
 * setInterval(async () => {
 *   const now = await voiceDriverStats({ since: last });
 *   console.log(`pacing p99 ${now.sendLatenessMs?.p99} ms over ${now.ticks} ticks`);
 *   last = now;
 * }, 10_000);
 * ```
 */
export async function voiceDriverStats(options: { since?: VoiceDriverStats } = {}): Promise<VoiceDriverStats> {
  const alive = driverThreads().filter((t) => t.alive);
  const readings = await Promise.all(alive.map((t) => t.readLateness()));
  const total = new Array<number>(LATENESS_BUCKETS).fill(0);
  const add = (h: ArrayLike<number>): void => {
    for (let i = 0; i < LATENESS_BUCKETS && i < h.length; i++) total[i] += h[i];
  };
  add(readTickLateness());
  for (const r of readings) if (r) add(r);
  const since = options.since?.histogram;
  // A thread that died takes its counts with it: a bucket never goes below 0 in a window.
  const window = since ? total.map((v, i) => Math.max(0, v - (since[i] ?? 0))) : total;
  const summary = latenessSummary(window);
  return {
    threads: alive.length,
    ticks: summary?.ticks ?? 0,
    sendLatenessMs: summary ? { p50: summary.p50, p99: summary.p99, max: summary.max } : null,
    histogram: total,
  };
}
