import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { KARAOKE_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** Parameters of {@link karaoke} (Lavalink's `karaoke`; all optional, Lavalink's defaults). */
export interface KaraokeParams {
  /** How much of what is in the centre (identical in both channels, usually the voice) is cut, 0 … 1. Default 1; 0 = off. */
  level?: number;
  /** How much of the mono band around `filterBand` is put back, 0 … 1 (scaled by `level`). Default 1. */
  monoLevel?: number;
  /** Centre of the band kept from the mono sum (bass, kick), Hz ≥ 0. Default 220. */
  filterBand?: number;
  /** Width of that band, Hz ≥ 0. Default 100. */
  filterWidth?: number;
}

/**
 * Lavalink's karaoke filter: removes what is panned to the centre — usually the vocal —
 * over PCM frames (s16le 48 kHz stereo).
 *
 * Each channel has `level` × the other channel subtracted (`L − level·R`, `R − level·L`),
 * which cancels centre-panned sound, and gets back the mono sum band-passed around
 * `filterBand` (`filterWidth` Hz wide) × `monoLevel·level`, so the low end survives. A sound
 * panned to one side only stays there at its level and also shows up, phase-inverted and
 * scaled by `level`, on the other side (as in Lavalink).
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`, or
 * the input frame itself while `level` is 0. With an `Observable`, each value takes effect
 * on the next frame, crossfaded from the old settings across that frame (no click); values
 * before the first frame apply from the start. Completes when the source completes. Errors
 * with the source's or the observable's error, or {@link InvalidFilterError} (`field` e.g.
 * `karaoke.level`) for an invalid emitted value.
 *
 * @param params `{ level, monoLevel, filterBand, filterWidth }` or an observable of them.
 * @throws {InvalidFilterError} synchronously, for invalid parameters given as a value.
 *
 * @example
 * ```ts
 * ffmpegSource('song.mp3').pipe(karaoke({ level: 1, monoLevel: 1, filterBand: 220, filterWidth: 100 }), opusEncode(), voiceSink(conn));
 * ```
 */
export function karaoke(params: KaraokeParams | Observable<KaraokeParams> = {}): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(KARAOKE_SPEC, params);
}
