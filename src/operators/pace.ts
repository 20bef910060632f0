import { Observable, type MonoTypeOperatorFunction, type SchedulerLike } from 'rxjs';
import { FRAME_MS } from '../core/audioFormat';
import { SinkDemand, withDemand } from '../core/FrameDemand';
import { schedulerClock, sharedVoiceClock, type VoiceClock } from '../core/VoiceClock';

/** Options of {@link pace}. */
export interface PaceOptions {
  /** Interval between emissions, ms. Default 20. With `clock`, the clock's own period is used. */
  frameMs?: number;
  /** Pace on this clock. Default: the process-wide high-resolution clock (20 ms). */
  clock?: VoiceClock;
  /** Pace on this RxJS scheduler instead (marble tests). */
  scheduler?: SchedulerLike;
  /** How far upstream sources may read ahead, ms. Default 1000. */
  leadMs?: number;
}

/**
 * Re-times a stream to one item per frame: buffers what upstream emits and emits one item
 * on every tick of a {@link VoiceClock} (absolute 20 ms deadlines; after an event-loop
 * stall it does not burst). Upstream runs inside a `FrameDemand`, so sources read only
 * `leadMs` ahead. A tick with nothing buffered emits nothing.
 *
 * Completes when upstream has completed and the buffer is empty; errors after the items
 * buffered before the error have been emitted.
 *
 * @example
 * ```ts
 * toneSource({ frequency: 440, durationMs: 1000 }).pipe(pace()).subscribe(); // 50 frames, one per 20 ms
 * ```
 */
export function pace<T>(options: PaceOptions = {}): MonoTypeOperatorFunction<T> {
  return (source) =>
    new Observable<T>((subscriber) => {
      const clock = options.clock ?? (options.scheduler ? schedulerClock(options.scheduler, options.frameMs ?? FRAME_MS) : sharedVoiceClock());
      const demand = new SinkDemand(options.leadMs ?? 1000);
      const queue: T[] = [];
      let done = false;
      let error: { err: unknown } | null = null;
      let stop = (): void => undefined;
      const upstream = withDemand(demand, () =>
        source.subscribe({
          next: (v) => {
            demand.received(clock.frameMs);
            queue.push(v);
          },
          error: (err: unknown) => {
            error = { err };
            done = true;
          },
          complete: () => {
            done = true;
          },
        }),
      );
      stop = clock.add(() => {
        if (queue.length > 0) {
          subscriber.next(queue.shift()!);
          demand.consume(clock.frameMs);
          if (queue.length > 0 || !done) return;
        }
        if (done && queue.length === 0) {
          stop();
          if (error) subscriber.error(error.err);
          else subscriber.complete();
        }
      });
      return () => {
        stop();
        upstream.unsubscribe();
        demand.complete();
      };
    });
}
