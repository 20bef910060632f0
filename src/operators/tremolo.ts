import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { TREMOLO_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link tremolo} (Lavalink's `tremolo`). */
export interface TremoloParams {
  /** How often the volume swings, Hz > 0. Default 2. */
  frequency?: number;
  /** How deep, 0 … 1: the gain goes between `1 − depth` and 1 (0.5: down to half). Default 0.5; 0 = off. */
  depth?: number;
}

/**
 * Lavalink's tremolo: the volume oscillates, over PCM frames (s16le 48 kHz stereo).
 *
 * The gain is `1 − depth/2 + depth/2 · sin(2π·frequency·t)` (both channels alike), i.e. it
 * swings between `1 − depth` and 1, `frequency` times a second.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `depth` is 0. With an `Observable`, each value takes effect
 * on the next frame, crossfaded from the old settings across that frame (the oscillator's
 * phase continues); values before the first frame apply from the start. Completes when the
 * source completes. Errors with the source's or the observable's error, or
 * {@link InvalidFilterError} (`field` e.g. `tremolo.depth`) for an invalid emitted value.
 *
 * @param params `{ frequency, depth }` or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * pcm$.pipe(tremolo({ frequency: 4, depth: 0.5 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function tremolo(params: TremoloParams | Observable<TremoloParams> = {}): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(TREMOLO_SPEC, params);
}
