import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { CHANNEL_MIX_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link channelMix} (Lavalink's `channelMix`): factors 0 … 1. */
export interface ChannelMixParams {
  /** Share of the left input in the left output. Default 1. */
  leftToLeft?: number;
  /** Share of the left input in the right output. Default 0. */
  leftToRight?: number;
  /** Share of the right input in the left output. Default 0. */
  rightToLeft?: number;
  /** Share of the right input in the right output. Default 1. */
  rightToRight?: number;
}

/**
 * Lavalink's channel mix: recombines the two channels, over PCM frames (s16le 48 kHz
 * stereo).
 *
 * `L' = leftToLeft·L + rightToLeft·R`, `R' = leftToRight·L + rightToRight·R`, clipped to
 * full scale. All 0.5: mono; `{ leftToLeft: 0, leftToRight: 1, rightToLeft: 1, rightToRight: 0 }`:
 * left and right swapped.
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself at the defaults. With an `Observable`, each value takes effect on
 * the next frame, crossfaded across that frame; values before the first frame apply from
 * the start. Completes when the source completes. Errors with the source's or the
 * observable's error, or {@link InvalidFilterError} (`field` e.g. `channelMix.leftToRight`)
 * for an invalid emitted value.
 *
 * @param params the four factors, or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * pcm$.pipe(channelMix({ leftToLeft: 0.5, leftToRight: 0.5, rightToLeft: 0.5, rightToRight: 0.5 }), opusEncode(), voiceSink(conn)); // mono
 * ```
 */
export function channelMix(params: ChannelMixParams | Observable<ChannelMixParams>): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(CHANNEL_MIX_SPEC, params);
}
