import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { LOUDNESS_NORMALIZE_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link loudnessNormalize}. */
export interface LoudnessNormalizeParams {
  /** Loudness to bring the track to, LUFS, −70 … 0. Default −14 (what the big streaming services use). */
  targetLufs?: number;
  /** Most gain added to a quiet track, dB, 0 … 60. Default 20. */
  maxGainDb?: number;
}

/**
 * Loudness normalization (EBU R128): plays every track at the same perceived loudness,
 * over PCM frames (s16le 48 kHz stereo).
 *
 * It measures the input's integrated loudness as ITU-R BS.1770-4 / EBU R128 define it
 * (K-weighting, 400 ms blocks every 100 ms, absolute gate −70 LUFS, relative gate −10 LU)
 * while the track plays, and applies `targetLufs − measured` dB (at most `maxGainDb` up).
 * The estimate covers everything since subscription, so it converges on the track's
 * integrated loudness: there is no estimate and no gain change for the first 400 ms, then
 * the gain follows the estimate with a 0.5 s time constant, ramped across each frame. Put
 * it inside each track's pipe (e.g. in the `concatMap` of a queue) so it starts afresh per
 * track. It does not limit peaks: a quiet track brought up may clip; follow it with
 * `compressor({ ratio: Infinity, threshold: -1 })` to prevent that.
 *
 * Emits one frame per input frame, synchronously, of the same length (a new `Buffer`).
 * With an `Observable`, a new target takes effect on the next frame, crossfaded across that
 * frame (the measurement carries on); values before the first frame apply from the start.
 * Completes when the source completes. Errors with the source's or the observable's error,
 * or {@link InvalidFilterError} (`field` e.g. `loudnessNormalize.targetLufs`) for an
 * invalid emitted value.
 *
 * @param params `{ targetLufs, maxGainDb }` or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * queue$.pipe(
 *   concatMap((file) => ffmpegSource(file).pipe(loudnessNormalize({ targetLufs: -16 }))),
 *   opusEncode(),
 *   voiceSink(conn),
 * );
 * ```
 */
export function loudnessNormalize(params: LoudnessNormalizeParams | Observable<LoudnessNormalizeParams> = {}): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(LOUDNESS_NORMALIZE_SPEC, params);
}
