import type { MonoTypeOperatorFunction, Observable } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import { EQUALIZER_SPEC } from './internal/filterSpecs';
import { liveFilter } from './internal/liveParams';

/** One band setting of {@link equalizer}, as in Lavalink's `equalizer` array. */
export interface EqualizerBand {
  /**
   * Band index 0 … 14; centre frequencies 25, 40, 63, 100, 160, 250, 400, 630, 1000,
   * 1600, 2500, 4000, 6300, 10000, 16000 Hz (2/3 octave apart).
   */
  band: number;
  /**
   * Lavalink's gain scale, −0.25 … 1: the band's level is multiplied by `1 + 4·gain` at its
   * centre — 0 leaves it, 0.25 doubles it (+6 dB), 1 is ×5 (+14 dB), −0.25 mutes it.
   * Lavalink's protocol default when omitted: 1.
   */
  gain: number;
}

/**
 * Lavalink's 15-band equalizer over PCM frames (s16le 48 kHz stereo).
 *
 * A parallel bank of 2/3-octave band-pass filters: `out = in + Σ 4·gain·bandpass(in)`, so
 * a band's gain acts fully at its centre frequency and fades out towards its neighbours;
 * bands not listed stay at 0. The result is clipped at full scale (as Lavalink does).
 *
 * Emits one frame per input frame, synchronously, of the same length: a new `Buffer`
 * (input frames are never modified), or the input frame itself while every gain is 0.
 * With an `Observable` of band lists, each list replaces the previous one (absent bands
 * go back to 0) and takes effect on the next frame, crossfaded from the old settings to the
 * new across that frame (20 ms), so switching never clicks; lists that arrive before the
 * first frame apply from the start. The observable is subscribed before the source; when it
 * completes the last list stays. Completes when the source completes. Errors with the
 * source's error, the observable's error, or {@link InvalidFilterError} (`field` e.g.
 * `equalizer[3].gain`) when it emits an invalid list.
 *
 * @param bands Lavalink's `[{ band, gain }]` (later entries for the same band win), or an
 *   observable of such lists.
 * @throws {InvalidFilterError} synchronously, for an invalid list given as a value.
 *
 * @example
 * ```ts
 * // Bass boost, switchable live.
 * const eq$ = new BehaviorSubject<EqualizerBand[]>([]);
 * pcm$.pipe(equalizer(eq$), opusEncode(), voiceSink(conn)).subscribe();
 * eq$.next([{ band: 0, gain: 0.3 }, { band: 1, gain: 0.25 }, { band: 2, gain: 0.2 }]);
 * ```
 */
export function equalizer(bands: readonly EqualizerBand[] | Observable<readonly EqualizerBand[]>): MonoTypeOperatorFunction<PcmFrame> {
  return liveFilter(EQUALIZER_SPEC, bands);
}
