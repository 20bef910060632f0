/**
 * How late each voice clock tick finished its time-critical work (the sends of its
 * `onTick` listeners), as a histogram per thread: bucket `i` counts ticks that ended
 * between `i × BUCKET_MS` and `(i + 1) × BUCKET_MS` after their deadline; the last bucket
 * counts everything from `MAX_MS` on. Ticks skipped by an event-loop stall count as
 * `frameMs` late each. Counts only grow (readers take differences between two readings).
 *
 * Internal: {@link import('../driver/voiceDriverStats').voiceDriverStats} reads it on every
 * thread.
 */

/** Bucket width, ms. */
export const LATENESS_BUCKET_MS = 0.1;
/** Lateness at and above which ticks share the last bucket, ms. */
export const LATENESS_MAX_MS = 100;
/** Number of buckets (the last one is the overflow). */
export const LATENESS_BUCKETS = Math.round(LATENESS_MAX_MS / LATENESS_BUCKET_MS) + 1;

const counts = new Float64Array(LATENESS_BUCKETS);

function bucketOf(ms: number): number {
  if (!(ms > 0)) return 0;
  return Math.min(LATENESS_BUCKETS - 1, Math.floor(ms / LATENESS_BUCKET_MS));
}

/** Records one tick that ended `latenessMs` after its deadline, and `skipped` ticks `frameMs` late. */
export function recordTickLateness(latenessMs: number, skipped: number, frameMs: number): void {
  counts[bucketOf(latenessMs)]++;
  if (skipped > 0) counts[bucketOf(frameMs)] += skipped;
}

/** A copy of this thread's cumulative histogram. */
export function readTickLateness(): Float64Array {
  return Float64Array.from(counts);
}

/** Lateness percentiles of a histogram (e.g. the difference of two readings), ms; null when empty. */
export function latenessSummary(hist: ArrayLike<number>): { ticks: number; p50: number; p99: number; max: number } | null {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (total <= 0) return null;
  const at = (q: number): number => {
    const rank = q * total;
    let seen = 0;
    for (let i = 0; i < hist.length; i++) {
      seen += hist[i];
      if (seen >= rank && hist[i] > 0) return upper(i);
    }
    return upper(hist.length - 1);
  };
  let top = 0;
  for (let i = hist.length - 1; i >= 0; i--) {
    if (hist[i] > 0) {
      top = i;
      break;
    }
  }
  return { ticks: total, p50: at(0.5), p99: at(0.99), max: upper(top) };
}

/** A bucket's upper edge, ms (the overflow bucket: its lower edge). */
function upper(i: number): number {
  if (i >= LATENESS_BUCKETS - 1) return LATENESS_MAX_MS;
  return Math.round((i + 1) * LATENESS_BUCKET_MS * 10) / 10;
}
