import { asyncScheduler, Observable, type OperatorFunction, type SchedulerLike, type Subscription } from 'rxjs';
import { isOpusSilence } from '../core/audioFormat';
import type { ReceivedPacket } from '../gateway/VoiceReceiver';
import { guardedNext } from './internal/guardedNext';

/** A speaking start or stop derived from packets. */
export interface SpeakingChange {
  speaking: boolean;
  /**
   * When it happened, ms on the packets' `receivedAt` time base (`performance.now()`): a start
   * is the first sound's arrival, a stop the last sound's arrival + `hangoverMs`.
   */
  at: number;
}

/** Options of {@link detectSpeaking}. */
export interface DetectSpeakingOptions {
  /** Silence after the last sound before a stop, ms. Default 200. */
  hangoverMs?: number;
  /** Runs the hangover timer (marble tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
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
export function detectSpeaking(options: DetectSpeakingOptions = {}): OperatorFunction<ReceivedPacket, SpeakingChange> {
  const hangover = options.hangoverMs ?? 200;
  const scheduler = options.scheduler ?? asyncScheduler;
  return (source) =>
    new Observable<SpeakingChange>((subscriber) => {
      let speaking = false;
      let lastSoundAt = 0;
      let timer: Subscription | null = null;
      const stop = (): void => {
        timer?.unsubscribe();
        timer = null;
        if (!speaking) return;
        speaking = false;
        subscriber.next({ speaking: false, at: lastSoundAt + hangover });
      };
      const sub = source.subscribe({
        next: guardedNext(subscriber, 'detectSpeaking', (p: ReceivedPacket) => {
          if (isOpusSilence(p.payload)) return;
          if (!speaking) {
            speaking = true;
            subscriber.next({ speaking: true, at: p.receivedAt });
          }
          lastSoundAt = p.receivedAt;
          timer?.unsubscribe();
          timer = scheduler.schedule(stop, hangover);
        }),
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
