import { Observable } from 'rxjs';
import { DemandGate } from '../core/FrameDemand';

/**
 * A demand-aware source from a function: emits `produce(0)`, `produce(1)`, … synchronously
 * while the consumer's demand is open (see `FrameDemand`), continues when it opens again,
 * and completes when `produce` returns `undefined`. The quickest way to write your own
 * source of 20 ms frames (PCM or Opus) that a sink paces without reading ahead unboundedly.
 *
 * Emits whatever `produce` returns (one frame each). Completes after `produce` returned
 * `undefined`. Errors with whatever `produce` throws. Without a consumer's demand it emits
 * until `produce` is exhausted, synchronously on subscribe.
 *
 * @param produce called with the frame index (0, 1, 2 …) for each frame.
 *
 * @example
 * ```ts
 * // 3 s of pre-encoded Opus packets, paced by the sink.
 * frameSource((i) => packets[i]).pipe(voiceSink(conn)).subscribe();
 * ```
 */
export function frameSource<T>(produce: (index: number) => T | undefined): Observable<T> {
  return new Observable<T>((subscriber) => {
    const gate = new DemandGate(subscriber);
    let index = 0;
    let pumping = false;
    let done = false;
    const pump = (): void => {
      if (pumping || done) return; // re-entered from a synchronous consume(): the running loop re-checks the gate
      pumping = true;
      try {
        while (!subscriber.closed && gate.open) {
          const value = produce(index++);
          if (value === undefined) {
            done = true;
            subscriber.complete();
            return;
          }
          gate.emit(subscriber, value);
        }
      } catch (err) {
        done = true;
        subscriber.error(err);
      } finally {
        pumping = false;
      }
    };
    const changes = gate.changes$.subscribe(pump);
    pump();
    return () => changes.unsubscribe();
  });
}
