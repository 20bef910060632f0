import { BehaviorSubject, defer, isObservable, map, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { PcmFrame } from '../core/audioFormat';
import type { ChannelMixParams } from './channelMix';
import type { DistortionParams } from './distortion';
import type { EqualizerBand } from './equalizer';
import { InvalidFilterError } from './InvalidFilterError';
import {
  CHANNEL_MIX_SPEC,
  DISTORTION_SPEC,
  EQUALIZER_SPEC,
  KARAOKE_SPEC,
  LAVALINK_VOLUME_SPEC,
  LOW_PASS_SPEC,
  objectAt,
  ROTATION_SPEC,
  TREMOLO_SPEC,
  VIBRATO_SPEC,
} from './internal/filterSpecs';
import { FilterStage, sameSettings, StageChain, type FilterSpec } from './internal/liveParams';
import type { KaraokeParams } from './karaoke';
import type { LowPassParams } from './lowPass';
import type { RotationParams } from './rotation';
import { timescale, TIMESCALE_MAX, TIMESCALE_MIN, type TimescaleParams } from './timescale';
import type { TremoloParams } from './tremolo';
import type { VibratoParams } from './vibrato';

/**
 * Lavalink v4's filter object (REST `filters`, docs/api/rest.md "Filters"). Every field is
 * optional; an absent or `null` field turns that filter off, so each object replaces the
 * whole previous set (as `PATCH …/players/{guildId}` does). Unknown fields are ignored, as
 * Lavalink ignores them.
 */
export interface FiltersConfig {
  /** Lavalink's volume filter, 0 … 5 (1 = 100 %), applied with Lavalink's curve (see {@link filters}). */
  volume?: number | null;
  /** Band gains, see {@link equalizer}. */
  equalizer?: readonly EqualizerBand[] | null;
  /** See {@link karaoke}. */
  karaoke?: KaraokeParams | null;
  /** Speed, pitch and rate, each a factor from 1/8 to 8 (1 = unchanged; Lavalink takes any ≥ 0); see {@link timescale}. */
  timescale?: TimescaleParams | null;
  /** See {@link tremolo}. */
  tremolo?: TremoloParams | null;
  /** See {@link vibrato}. */
  vibrato?: VibratoParams | null;
  /** See {@link rotation}. */
  rotation?: RotationParams | null;
  /** See {@link distortion}. */
  distortion?: DistortionParams | null;
  /** See {@link channelMix}. */
  channelMix?: ChannelMixParams | null;
  /** See {@link lowPass}. */
  lowPass?: LowPassParams | null;
  /** Lavalink plugin filters by plugin name: accepted (must be an object) and ignored — rxvoice has no plugins. */
  pluginFilters?: Readonly<Record<string, unknown>> | null;
}

/** Options of {@link filters}. */
export interface FiltersOptions {
  /**
   * Called (synchronously, from the config observable's emission) with the error when an
   * emitted config is invalid; the previous config keeps playing and the stream goes on.
   * Default: a process warning (`process.emitWarning`; listen with `process.on('warning', …)`)
   * named `InvalidFilterError`, code `INVALID_FILTER`, with the error's message.
   * Throwing from it errors the stream with what it threw.
   */
  onError?: (error: InvalidFilterError) => void;
}

/**
 * Lavalink's order of the filters, in the direction the audio flows. Lavalink lists them
 * volume … lowPass in `FilterChain.buildList()`, then builds each filter to output into the
 * one listed before it and hands lavaplayer the list reversed (`buildChain`), whose first
 * element receives the audio — so lowPass runs first and volume last.
 */
export const LAVALINK_FILTER_ORDER = ['lowPass', 'channelMix', 'rotation', 'distortion', 'vibrato', 'tremolo', 'timescale', 'karaoke', 'equalizer', 'volume'] as const;

/** Stages before timescale, in order. */
const BEFORE: ReadonlyArray<FilterSpec<unknown>> = [LOW_PASS_SPEC, CHANNEL_MIX_SPEC, ROTATION_SPEC, DISTORTION_SPEC, VIBRATO_SPEC, TREMOLO_SPEC] as ReadonlyArray<FilterSpec<unknown>>;
/** Stages after timescale, in order. */
const AFTER: ReadonlyArray<FilterSpec<unknown>> = [KARAOKE_SPEC, EQUALIZER_SPEC, LAVALINK_VOLUME_SPEC] as ReadonlyArray<FilterSpec<unknown>>;

type TimescaleSettings = Required<TimescaleParams>;
const NEUTRAL_TIMESCALE: TimescaleSettings = { speed: 1, pitch: 1, rate: 1 };

interface NormalizedFilters {
  /** Settings per stage of BEFORE then AFTER, or null for off. */
  readonly stages: ReadonlyArray<unknown>;
  readonly timescale: TimescaleSettings;
}

function normalizeTimescale(value: unknown): TimescaleSettings {
  const o = objectAt(value, 'timescale');
  const factor = (key: keyof TimescaleSettings): number => {
    const v = o[key];
    if (v === undefined) return 1;
    if (typeof v !== 'number' || !(v >= TIMESCALE_MIN && v <= TIMESCALE_MAX)) throw new InvalidFilterError(`timescale.${key}`, v, `a factor from ${TIMESCALE_MIN} to ${TIMESCALE_MAX}`);
    return v;
  };
  return { speed: factor('speed'), pitch: factor('pitch'), rate: factor('rate') };
}

/** Validates a whole config (all or nothing). @throws {InvalidFilterError} */
function normalizeFilters(config: unknown): NormalizedFilters {
  const o = objectAt(config, 'filters');
  if (o.pluginFilters !== undefined && o.pluginFilters !== null) objectAt(o.pluginFilters, 'pluginFilters');
  const settingsOf = (spec: FilterSpec<unknown>): unknown => {
    const value = o[spec.name];
    if (value === undefined || value === null) return null;
    const settings = spec.normalize(value);
    return spec.isIdentity(settings) ? null : settings;
  };
  const stages = [...BEFORE, ...AFTER].map(settingsOf);
  const ts = o.timescale === undefined || o.timescale === null ? NEUTRAL_TIMESCALE : normalizeTimescale(o.timescale);
  return { stages, timescale: ts };
}

const isNeutral = (ts: TimescaleSettings): boolean => ts.speed === 1 && ts.pitch === 1 && ts.rate === 1;

/** The stages of one subscription. */
class FilterChainState {
  readonly before = BEFORE.map((spec) => new FilterStage(spec));
  readonly after = AFTER.map((spec) => new FilterStage(spec));
  private readonly all = [...this.before, ...this.after];

  apply(config: NormalizedFilters): void {
    config.stages.forEach((settings, i) => {
      const stage = this.all[i];
      if (settings !== null) stage.set(settings);
      else if (stage.current !== null) stage.set(stage.spec.normalize(OFF[stage.spec.name]));
    });
  }
}

/** A value that turns each stage off (identity settings). */
const OFF: Readonly<Record<string, unknown>> = {
  lowPass: { smoothing: 1 },
  channelMix: {},
  rotation: { rotationHz: 0 },
  distortion: {},
  vibrato: { depth: 0 },
  tremolo: { depth: 0 },
  karaoke: { level: 0 },
  equalizer: [],
  volume: 1,
};

/**
 * Lavalink's filters as one operator: takes Lavalink v4's JSON filter object
 * ({@link FiltersConfig}: `volume`, `equalizer`, `karaoke`, `timescale`, `tremolo`,
 * `vibrato`, `rotation`, `distortion`, `channelMix`, `lowPass`, `pluginFilters`) — a value,
 * or an `Observable` of them to change filters while playing — and applies those present,
 * over PCM frames (s16le 48 kHz stereo), in Lavalink's order:
 * lowPass → channelMix → rotation → distortion → vibrato → tremolo → timescale → karaoke →
 * equalizer → volume ({@link LAVALINK_FILTER_ORDER}).
 *
 * Each filter behaves as its own operator ({@link lowPass}, {@link channelMix},
 * {@link rotation}, {@link distortion}, {@link vibrato}, {@link tremolo}, `timescale`,
 * {@link karaoke}, {@link equalizer}) with Lavalink's defaults for omitted fields; the
 * chain runs in floating point between the stages (one conversion from and to s16le on
 * each side of timescale) and clips where Lavalink clips. `volume` is Lavalink's volume
 * filter, not the linear {@link volume} operator: it applies lavadsp's curve
 * (`tan(0.79·v)` up to 1.5, `1.6408·v` above; within 0.02 of 1 unchanged), so 0.5 is
 * ×0.417 and 2 is ×3.28. Filters that are absent, `null` or at their neutral values
 * (Lavalink's "disabled") cost nothing; when nothing is on and timescale is 1 the input
 * frames pass through as they are.
 *
 * Emits, synchronously, what the chain makes of each input frame: one new frame per input
 * frame, except that `timescale` emits frames at its own pace (fewer when speeding up,
 * more when slowing down). With an `Observable`, each config replaces the previous one
 * (absent filters go off) and takes effect on the next frame, crossfaded per filter from
 * the old settings to the new across that frame, so no change clicks; configs that arrive
 * before the first frame apply from the start. **An invalid config is rejected whole:**
 * the previous config keeps playing, and the {@link InvalidFilterError} (its `field` names
 * the first offending field, e.g. `equalizer[3].gain`) goes to `options.onError`, or
 * without one becomes a process warning (`process.on('warning', …)`, name
 * `InvalidFilterError`, code `INVALID_FILTER`); the stream is not errored. The config observable is
 * subscribed before the source; when it completes the last config stays. Completes when the
 * source completes (after timescale's last frames). Errors with the source's error, the
 * config observable's error, or what `onError` throws.
 *
 * @param config Lavalink's filter object, or an observable of them.
 * @param options `onError`: where invalid configs from the observable are reported.
 * @throws {InvalidFilterError} synchronously, for an invalid config given as a value.
 *
 * @example
 * ```ts
 * const filters$ = new BehaviorSubject<FiltersConfig>({});
 * ffmpegSource('song.mp3').pipe(filters(filters$, { onError: (e) => log.warn(e.message) }), opusEncode(), voiceSink(conn)).subscribe();
 * // Nightcore, then 8D with a bass boost (each object replaces the last, as in Lavalink):
 * filters$.next({ timescale: { speed: 1.25, pitch: 1.25 } });
 * filters$.next({ rotation: { rotationHz: 0.2 }, equalizer: [{ band: 0, gain: 0.25 }, { band: 1, gain: 0.2 }] });
 * ```
 */
export function filters(config: FiltersConfig | Observable<FiltersConfig>, options: FiltersOptions = {}): MonoTypeOperatorFunction<PcmFrame> {
  if (!isObservable(config)) {
    const normalized = normalizeFilters(config);
    if (normalized.stages.every((s) => s === null) && isNeutral(normalized.timescale)) return (source) => source;
    return (source) =>
      defer(() => {
        const state = new FilterChainState();
        state.apply(normalized);
        if (isNeutral(normalized.timescale)) {
          const chain = new StageChain([...state.before, ...state.after]);
          return source.pipe(map((frame) => chain.run(frame)));
        }
        const before = new StageChain(state.before);
        const after = new StageChain(state.after);
        return source.pipe(
          map((frame) => before.run(frame)),
          timescale(normalized.timescale),
          map((frame) => after.run(frame)),
        );
      });
  }
  const report =
    options.onError ?? ((error: InvalidFilterError) => process.emitWarning(error.message, { type: 'InvalidFilterError', code: 'INVALID_FILTER', detail: `field: ${error.field}` }));
  return (source) =>
    new Observable<PcmFrame>((subscriber) => {
      const state = new FilterChainState();
      const timescale$ = new BehaviorSubject<TimescaleSettings>(NEUTRAL_TIMESCALE);
      subscriber.add(
        config.subscribe({
          next: (value) => {
            let normalized: NormalizedFilters;
            try {
              normalized = normalizeFilters(value);
            } catch (err) {
              if (!(err instanceof InvalidFilterError)) {
                subscriber.error(err);
                return;
              }
              try {
                report(err);
              } catch (thrown) {
                subscriber.error(thrown);
              }
              return;
            }
            state.apply(normalized);
            if (!sameSettings(timescale$.value, normalized.timescale)) timescale$.next(normalized.timescale);
          },
          error: (err: unknown) => subscriber.error(err),
        }),
      );
      if (subscriber.closed) return;
      const before = new StageChain(state.before);
      const after = new StageChain(state.after);
      subscriber.add(
        source
          .pipe(
            map((frame) => before.run(frame)),
            timescale(timescale$),
            map((frame) => after.run(frame)),
          )
          .subscribe(subscriber),
      );
      subscriber.add(() => timescale$.complete());
    });
}
