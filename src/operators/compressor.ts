import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { COMPRESSOR_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link compressor} (not a Lavalink filter; NodeLink has one). */
export interface CompressorParams {
  /** Level above which the gain is reduced, dBFS, −100 … 0 (peak, of the louder channel). Default −18. */
  threshold?: number;
  /** Compression ratio ≥ 1: above the threshold, `ratio` dB in give 1 dB out; `Infinity` makes a limiter. Default 4; 1 with no makeup gain = off. */
  ratio?: number;
  /** Time a gain-reduction step takes to complete, ms, 0 … 1000. Default 10. */
  attack?: number;
  /** Time the gain takes to recover (99.9 %) after the level falls, ms, 0 … 10000 (after a 10 ms hold). Default 100. */
  release?: number;
  /** Gain added after compression, dB, −40 … 40. Default 0. */
  makeupGain?: number;
}

/**
 * A dynamic-range compressor, or with `ratio: Infinity` a limiter, over PCM frames (s16le
 * 48 kHz stereo).
 *
 * Feed-forward and stereo-linked: the peak of the louder channel, held over 10 ms, sets
 * the wanted gain reduction `(1 − 1/ratio) · (level − threshold)` dB; the applied reduction
 * reaches it within `attack` ms (an exponential aimed just past the target that stops on
 * it) and recovers over `release` ms. No look-ahead: a sudden jump passes above the
 * threshold for at most `attack` ms.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `ratio` is 1 and `makeupGain` 0. With an `Observable`, each
 * value takes effect on the next frame, crossfaded across that frame (the detector's state
 * carries over); values before the first frame apply from the start. Completes when the
 * source completes. Errors with the source's or the observable's error, or
 * {@link InvalidFilterError} (`field` e.g. `compressor.ratio`) for an invalid emitted value.
 *
 * @param params threshold (dBFS), ratio, attack (ms), release (ms), makeupGain (dB), or an
 *   observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * // A brick-wall limiter at −1 dBFS.
 * pcm$.pipe(compressor({ threshold: -1, ratio: Infinity, attack: 1, release: 50 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function compressor(params: CompressorParams | Observable<CompressorParams> = {}): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(COMPRESSOR_SPEC, params);
}
