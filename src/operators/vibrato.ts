import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { VIBRATO_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link vibrato} (Lavalink's `vibrato`). */
export interface VibratoParams {
  /** How often the pitch swings, Hz, 0 < f ≤ 14. Default 2. */
  frequency?: number;
  /** How deep, 0 … 1 (1: the delay line sweeps over 2 ms). Default 0.5; 0 = off. */
  depth?: number;
}

/**
 * Lavalink's vibrato: the pitch oscillates, over PCM frames (s16le 48 kHz stereo).
 *
 * A delay line whose delay sweeps between 3 samples and `3 + depth · 96` samples (2 ms at
 * depth 1) as `(1 + sin(2π·frequency·t))/2`, read with cubic interpolation: while the
 * delay grows the pitch is lower, while it shrinks higher. It adds a delay of 0.06–2.1 ms.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `depth` is 0. With an `Observable`, each value takes effect
 * on the next frame, crossfaded from the old settings across that frame; turning it on or
 * off crossfades from or to the dry signal. Values before the first frame apply from the
 * start. Completes when the source completes. Errors with the source's or the observable's
 * error, or {@link InvalidFilterError} (`field` e.g. `vibrato.frequency`) for an invalid
 * emitted value.
 *
 * @param params `{ frequency, depth }` or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * pcm$.pipe(vibrato({ frequency: 5, depth: 0.6 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function vibrato(params: VibratoParams | Observable<VibratoParams> = {}): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(VIBRATO_SPEC, params);
}
