import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { isOpusSilence } from '../core/audioFormat';
import type { ReceivedPacket } from '../gateway/VoiceReceiver';

/** A speaking start or stop derived from packets. */
export interface SpeakingChange {
  speaking: boolean;
  /** When it happened on the scheduler's clock, ms (a stop is dated at the last sound + hangover). */
  at: number;
}

/**
 * Derives speaking start/stop events from a speaker's packets: `{speaking: true}` at the
 * first packet with sound, `{speaking: false}` once `hangoverMs` (default 200, from the
 * usual 100–250 ms) passed without one (silence frames don't count as sound). Completes
 * with its source (emitting a final stop if speaking); errors with it.
 *
 * @example
 * ```ts
 * speaker.packets$.pipe(detectSpeaking()).subscribe(({ speaking }) => console.log(speaker.userId, speaking));
 * ```
 */
export function detectSpeaking(
  options: { hangoverMs?: number; scheduler?: SchedulerLike } = {},
): OperatorFunction<ReceivedPacket, SpeakingChange> {
  const hangover = options.hangoverMs ?? 200;
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<SpeakingChange>((subscriber) => {
      let speaking = false;
      let timer: Subscription | null = null;
      const stop = (): void => {
        timer?.unsubscribe();
        timer = null;
        if (!speaking) return;
        speaking = false;
        subscriber.next({ speaking: false, at: scheduler.now() });
      };
      const sub = source.subscribe({
        next: (p) => {
          if (isOpusSilence(p.payload)) return;
          if (!speaking) {
            speaking = true;
            subscriber.next({ speaking: true, at: scheduler.now() });
          }
          timer?.unsubscribe();
          timer = scheduler.schedule(stop, hangover);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          stop();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        sub.unsubscribe();
      };
    });
}
