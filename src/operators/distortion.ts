import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { DISTORTION_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/**
 * Parameters of {@link distortion} (Lavalink's `distortion`): finite numbers, unitless;
 * omitted ones take Lavalink's defaults (offsets 0, scales 1).
 */
export interface DistortionParams {
  /** Added to the sine term. Default 0. */
  sinOffset?: number;
  /** Multiplies the sample inside the sine. Default 1. */
  sinScale?: number;
  /** Added to the cosine term. Default 0. */
  cosOffset?: number;
  /** Multiplies the sample inside the cosine. Default 1. */
  cosScale?: number;
  /** Added to the tangent term. Default 0. */
  tanOffset?: number;
  /** Multiplies the sample inside the tangent. Default 1. */
  tanScale?: number;
  /** Added to the product. Default 0. */
  offset?: number;
  /** Multiplies the product. Default 1. */
  scale?: number;
}

/**
 * Lavalink's distortion: a waveshaper built from sine, cosine and tangent, over PCM frames
 * (s16le 48 kHz stereo).
 *
 * Every sample `x` (full scale ±1) becomes
 * `offset + scale · (sinOffset + sin(sinScale·x)) · (cosOffset + cos(cosScale·x)) · (tanOffset + tan(tanScale·x))`,
 * clipped to full scale. As in Lavalink, the all-defaults setting is treated as off.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while every field has its default. With an `Observable`, each
 * value takes effect on the next frame, crossfaded across that frame; values before the
 * first frame apply from the start. Completes when the source completes. Errors with the
 * source's or the observable's error, or {@link InvalidFilterError} (`field` e.g.
 * `distortion.tanScale`) for an invalid emitted value.
 *
 * @param params the eight coefficients, or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * pcm$.pipe(distortion({ sinScale: 2, cosScale: 0.5, tanScale: 0.3, scale: 1.5 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function distortion(params: DistortionParams | Observable<DistortionParams>): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(DISTORTION_SPEC, params);
}
