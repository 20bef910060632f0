import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { LOW_PASS_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link lowPass} (Lavalink's `lowPass`). */
export interface LowPassParams {
  /**
   * Smoothing factor, unitless: > 1 turns the filter on, larger is darker (−3 dB near
   * `48000 / (2π·smoothing)` Hz: 380 Hz at 20); ≤ 1 turns it off (Lavalink's rule). Default 20.
   */
  smoothing?: number;
}

/**
 * Lavalink's low-pass: exponential smoothing, over PCM frames (s16le 48 kHz stereo).
 *
 * Per channel `v += (x − v)/smoothing`, output `v`: a one-pole low-pass (6 dB per octave;
 * at smoothing 20, 200 Hz loses 1 dB and 5 kHz 22 dB), starting from the first sample.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `smoothing` ≤ 1. With an `Observable`, each value takes
 * effect on the next frame, crossfaded across that frame; values before the first frame
 * apply from the start. Completes when the source completes. Errors with the source's or
 * the observable's error, or {@link InvalidFilterError} (`field` `lowPass.smoothing`) for
 * an invalid emitted value.
 *
 * @param params `{ smoothing }` or an observable of it.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * pcm$.pipe(lowPass({ smoothing: 20 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function lowPass(params: LowPassParams | Observable<LowPassParams> = {}): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(LOW_PASS_SPEC, params);
}
