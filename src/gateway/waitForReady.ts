import { filter, firstValueFrom, map, merge, take, timer, type Observable, type SchedulerLike } from 'rxjs';
import { RxVoiceError } from '../errors';
import { VoiceConnectionError } from './VoiceConnectionError';
import type { VoiceConnectionState } from './VoiceConnectionState';

/** The `ready` member of the state union. */
export type ReadyState = Extract<VoiceConnectionState, { status: 'ready' }>;

/**
 * Resolves with the first `ready` state of `state$`; rejects with the state's
 * `VoiceConnectionError` on `disconnected`, with `LEFT_CHANNEL` on `destroyed`, and with
 * an `RxVoiceError` `READY_TIMEOUT` after `timeoutMs`.
 */
export function waitForReady(
  state$: Observable<VoiceConnectionState>,
  timeoutMs: number,
  scheduler?: SchedulerLike,
): Promise<ReadyState> {
  return firstValueFrom(
    merge(
      state$,
      timer(timeoutMs, scheduler).pipe(
        map((): never => {
          throw new RxVoiceError('READY_TIMEOUT', `voice connection not ready after ${timeoutMs} ms`);
        }),
      ),
    ).pipe(
      filter((s) => s.status === 'ready' || s.status === 'disconnected' || s.status === 'destroyed'),
      take(1),
      map((s) => {
        if (s.status === 'ready') return s;
        if (s.status === 'disconnected') throw s.error;
        throw new VoiceConnectionError('LEFT_CHANNEL', `the voice connection was destroyed (${s.reason}) before it was ready`);
      }),
    ),
  );
}
