import { asyncScheduler, Observable, type MonoTypeOperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { isOpusSilence } from '../core/audioFormat';
import type { JitterItem } from '../core/JitterItem';
import type { ReceivedPacket } from '../gateway/VoiceReceiver';
import { guardedNext } from './internal/guardedNext';

/** Whether an item carries sound: Opus silence frames and jitter-buffer gaps do not. */
function isSound(item: ReceivedPacket | JitterItem): boolean {
  if (Buffer.isBuffer(item)) return !isOpusSilence(item);
  if ('gap' in item) return false;
  return !isOpusSilence(item.payload);
}

/**
 * Mirrors its source and completes once `silenceMs` have passed without sound: no item, or only
 * Opus silence frames (`F8 FF FE`) and jitter-buffer gaps. The timer starts at subscribe.
 * Errors with its source. `options.scheduler` runs the timer (marble tests; default `asyncScheduler`).
 *
 * @example
 * ```ts
 * // one file per utterance
 * speaker.packets$.pipe(endAfterSilence(1000), jitterBuffer(), opusDecode(), wavFileSink('utterance.wav'))
 * ```
 */
export function endAfterSilence<T extends ReceivedPacket | JitterItem>(
  silenceMs: number,
  options: { scheduler?: SchedulerLike } = {},
): MonoTypeOperatorFunction<T> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<T>((subscriber) => {
      let timer: Subscription | null = null;
      const arm = (): void => {
        timer?.unsubscribe();
        timer = scheduler.schedule(() => subscriber.complete(), silenceMs);
      };
      arm();
      const sub = source.subscribe({
        next: guardedNext(subscriber, 'endAfterSilence', (item: T) => {
          if (isSound(item)) arm();
          subscriber.next(item);
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        timer?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
