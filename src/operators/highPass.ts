import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { HIGH_PASS_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link highPass} (not a Lavalink filter). */
export interface HighPassParams {
  /** Cut-off, Hz, 0 … 20000: −3 dB there at the default `q`; 0 = off. */
  cutoffHz: number;
  /** Resonance, 0.1 … 10: 1/√2 (default) is maximally flat (Butterworth), higher peaks at the cut-off. */
  q?: number;
}

/**
 * A high-pass filter: removes rumble and bass below a cut-off, over PCM frames (s16le
 * 48 kHz stereo). Second order (12 dB per octave), one biquad per channel.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `cutoffHz` is 0. With an `Observable`, each value takes
 * effect on the next frame, crossfaded across that frame (the filter's memory carries
 * over); values before the first frame apply from the start. Completes when the source
 * completes. Errors with the source's or the observable's error, or
 * {@link InvalidFilterError} (`field` e.g. `highPass.cutoffHz`) for an invalid emitted value.
 *
 * @param params `{ cutoffHz, q }` or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * mic$.pipe(highPass({ cutoffHz: 80 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function highPass(params: HighPassParams | Observable<HighPassParams>): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(HIGH_PASS_SPEC, params);
}
