import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { ROTATION_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link rotation} (Lavalink's `rotation`). */
export interface RotationParams {
  /** Turns per second around the listener, Hz (finite; negative turns the other way; 0.2 is the classic "8D"). Default 0 = off. */
  rotationHz?: number;
}

/**
 * Lavalink's rotation ("8D audio"): the sound circles around the listener's head, over PCM
 * frames (s16le 48 kHz stereo).
 *
 * `L' = L·(1 + sin x)/2`, `R' = R·(1 − sin x)/2` with `x = 2π·rotationHz·t`: the left and
 * right channels take turns, one full turn every `1/rotationHz` seconds (5 s at 0.2 Hz). As
 * in Lavalink, each channel keeps half its amplitude on average (about −6 dB overall).
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `rotationHz` is 0. With an `Observable`, each value takes
 * effect on the next frame, crossfaded across that frame (the rotation's phase continues);
 * values before the first frame apply from the start. Completes when the source completes.
 * Errors with the source's or the observable's error, or {@link InvalidFilterError}
 * (`field` `rotation.rotationHz`) for an invalid emitted value.
 *
 * @param params `{ rotationHz }` or an observable of it.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * pcm$.pipe(rotation({ rotationHz: 0.2 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function rotation(params: RotationParams | Observable<RotationParams>): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(ROTATION_SPEC, params);
}
