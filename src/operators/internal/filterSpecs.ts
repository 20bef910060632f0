import { ChannelMixKernel, type ChannelMixSettings } from '../../dsp/ChannelMixKernel';
import { CompressorKernel, type CompressorSettings } from '../../dsp/CompressorKernel';
import { DistortionKernel, type DistortionSettings } from '../../dsp/DistortionKernel';
import { EQUALIZER_BAND_COUNT, EqualizerKernel } from '../../dsp/EqualizerKernel';
import { GainKernel, type GainSettings } from '../../dsp/GainKernel';
import { HighPassKernel, type HighPassSettings } from '../../dsp/HighPassKernel';
import { KaraokeKernel, type KaraokeSettings } from '../../dsp/KaraokeKernel';
import { LoudnessNormalizeKernel, type LoudnessNormalizeSettings } from '../../dsp/LoudnessNormalizeKernel';
import { RotationKernel, type RotationSettings } from '../../dsp/RotationKernel';
import { SmoothingLowPassKernel, type SmoothingLowPassSettings } from '../../dsp/SmoothingLowPassKernel';
import { TremoloKernel, type TremoloSettings } from '../../dsp/TremoloKernel';
import { VibratoKernel, type VibratoSettings } from '../../dsp/VibratoKernel';
import { InvalidFilterError } from '../InvalidFilterError';
import type { FilterSpec } from './liveParams';

/**
 * The filters' parameter rules (ranges from Lavalink's REST docs, "Filters"; defaults from
 * its protocol) and kernel factories, shared by the single-filter operators and `filters`.
 * Every check throws {@link InvalidFilterError} naming the field.
 */

type Fields = Readonly<Record<string, unknown>>;

/** `value` as an object, or an error naming `field`. */
export function objectAt(value: unknown, field: string): Fields {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidFilterError(field, value, 'an object');
  return value as Fields;
}

/**
 * `obj[key]` as a number passing `ok` (`fallback` when absent; required when `fallback` is
 * undefined), or an error naming `field.key`.
 */
function numberAt(obj: Fields, key: string, field: string, fallback: number | undefined, ok: (v: number) => boolean, expected: string): number {
  const v = obj[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v) || !ok(v)) throw new InvalidFilterError(`${field}.${key}`, v, expected);
  return v;
}

const finite = (v: number): boolean => Number.isFinite(v);
const within = (lo: number, hi: number) => (v: number) => v >= lo && v <= hi;

/** Lavalink's equalizer band: `band` 0 … 14, `gain` −0.25 … 1. */
export const EQUALIZER_SPEC: FilterSpec<readonly number[]> = {
  name: 'equalizer',
  normalize(value, field = 'equalizer') {
    if (!Array.isArray(value)) throw new InvalidFilterError(field, value, `an array of { band, gain }`);
    const gains = new Array<number>(EQUALIZER_BAND_COUNT).fill(0);
    value.forEach((item: unknown, i) => {
      const at = `${field}[${i}]`;
      const o = objectAt(item, at);
      const band = numberAt(o, 'band', at, undefined, (v) => Number.isInteger(v) && v >= 0 && v < EQUALIZER_BAND_COUNT, `an integer 0 … ${EQUALIZER_BAND_COUNT - 1}`);
      // A band without a gain gets Lavalink's protocol default, 1.0; later entries override earlier ones.
      gains[band] = numberAt(o, 'gain', at, 1, within(-0.25, 1), 'a number from -0.25 to 1');
    });
    return gains;
  },
  isIdentity: (gains) => gains.every((g) => g === 0),
  create: (gains) => new EqualizerKernel(gains),
};

export const KARAOKE_SPEC: FilterSpec<KaraokeSettings> = {
  name: 'karaoke',
  normalize(value, field = 'karaoke') {
    const o = objectAt(value, field);
    return {
      level: numberAt(o, 'level', field, 1, within(0, 1), 'a number from 0 to 1'),
      monoLevel: numberAt(o, 'monoLevel', field, 1, within(0, 1), 'a number from 0 to 1'),
      filterBand: numberAt(o, 'filterBand', field, 220, (v) => finite(v) && v >= 0, 'a frequency ≥ 0 (Hz)'),
      filterWidth: numberAt(o, 'filterWidth', field, 100, (v) => finite(v) && v >= 0, 'a width ≥ 0 (Hz)'),
    };
  },
  isIdentity: (s) => s.level === 0,
  create: (s) => new KaraokeKernel(s),
};

export const TREMOLO_SPEC: FilterSpec<TremoloSettings> = {
  name: 'tremolo',
  normalize(value, field = 'tremolo') {
    const o = objectAt(value, field);
    const depth = numberAt(o, 'depth', field, 0.5, within(0, 1), 'a number from 0 to 1 (0: off)');
    // Lavalink leaves tremolo out at depth 0, so any frequency goes then.
    const frequency = numberAt(o, 'frequency', field, 2, (v) => finite(v) && (v > 0 || (depth === 0 && v >= 0)), 'a frequency > 0 (Hz)');
    return { frequency, depth };
  },
  isIdentity: (s) => s.depth === 0,
  create: (s) => new TremoloKernel(s),
};

export const VIBRATO_SPEC: FilterSpec<VibratoSettings> = {
  name: 'vibrato',
  normalize(value, field = 'vibrato') {
    const o = objectAt(value, field);
    const depth = numberAt(o, 'depth', field, 0.5, within(0, 1), 'a number from 0 to 1 (0: off)');
    const frequency = numberAt(o, 'frequency', field, 2, (v) => finite(v) && v <= 14 && (v > 0 || (depth === 0 && v >= 0)), 'a frequency > 0 and ≤ 14 (Hz)');
    return { frequency, depth };
  },
  isIdentity: (s) => s.depth === 0,
  create: (s) => new VibratoKernel(s),
};

export const ROTATION_SPEC: FilterSpec<RotationSettings> = {
  name: 'rotation',
  normalize(value, field = 'rotation') {
    const o = objectAt(value, field);
    return { rotationHz: numberAt(o, 'rotationHz', field, 0, finite, 'a finite frequency (Hz)') };
  },
  isIdentity: (s) => s.rotationHz === 0,
  create: (s) => new RotationKernel(s),
};

const DISTORTION_DEFAULTS: DistortionSettings = { sinOffset: 0, sinScale: 1, cosOffset: 0, cosScale: 1, tanOffset: 0, tanScale: 1, offset: 0, scale: 1 };

export const DISTORTION_SPEC: FilterSpec<DistortionSettings> = {
  name: 'distortion',
  normalize(value, field = 'distortion') {
    const o = objectAt(value, field);
    const out: Record<string, number> = {};
    for (const [key, fallback] of Object.entries(DISTORTION_DEFAULTS)) out[key] = numberAt(o, key, field, fallback, finite, 'a finite number');
    return out as unknown as DistortionSettings;
  },
  // Lavalink leaves the filter out when every field has its default.
  isIdentity: (s) => (Object.keys(DISTORTION_DEFAULTS) as Array<keyof DistortionSettings>).every((k) => s[k] === DISTORTION_DEFAULTS[k]),
  create: (s) => new DistortionKernel(s),
};

export const CHANNEL_MIX_SPEC: FilterSpec<ChannelMixSettings> = {
  name: 'channelMix',
  normalize(value, field = 'channelMix') {
    const o = objectAt(value, field);
    const factor = (key: string, fallback: number) => numberAt(o, key, field, fallback, within(0, 1), 'a factor from 0 to 1');
    return { leftToLeft: factor('leftToLeft', 1), leftToRight: factor('leftToRight', 0), rightToLeft: factor('rightToLeft', 0), rightToRight: factor('rightToRight', 1) };
  },
  isIdentity: (s) => s.leftToLeft === 1 && s.leftToRight === 0 && s.rightToLeft === 0 && s.rightToRight === 1,
  create: (s) => new ChannelMixKernel(s),
};

export const LOW_PASS_SPEC: FilterSpec<SmoothingLowPassSettings> = {
  name: 'lowPass',
  normalize(value, field = 'lowPass') {
    const o = objectAt(value, field);
    return { smoothing: numberAt(o, 'smoothing', field, 20, finite, 'a finite number (> 1: on, ≤ 1: off)') };
  },
  // Lavalink: "Any smoothing values equal to or less than 1.0 will disable the filter."
  isIdentity: (s) => s.smoothing <= 1,
  create: (s) => new SmoothingLowPassKernel(s),
};

export const HIGH_PASS_SPEC: FilterSpec<HighPassSettings> = {
  name: 'highPass',
  normalize(value, field = 'highPass') {
    const o = objectAt(value, field);
    return {
      cutoffHz: numberAt(o, 'cutoffHz', field, undefined, within(0, 20000), 'a frequency from 0 (off) to 20000 (Hz)'),
      q: numberAt(o, 'q', field, Math.SQRT1_2, within(0.1, 10), 'a number from 0.1 to 10'),
    };
  },
  isIdentity: (s) => s.cutoffHz === 0,
  create: (s) => new HighPassKernel(s),
};

export const COMPRESSOR_SPEC: FilterSpec<CompressorSettings> = {
  name: 'compressor',
  normalize(value, field = 'compressor') {
    const o = objectAt(value, field);
    return {
      threshold: numberAt(o, 'threshold', field, -18, within(-100, 0), 'a level from -100 to 0 (dBFS)'),
      ratio: numberAt(o, 'ratio', field, 4, (v) => v >= 1, 'a ratio ≥ 1 (Infinity: limiter)'),
      attack: numberAt(o, 'attack', field, 10, within(0, 1000), 'a time from 0 to 1000 (ms)'),
      release: numberAt(o, 'release', field, 100, within(0, 10000), 'a time from 0 to 10000 (ms)'),
      makeupGain: numberAt(o, 'makeupGain', field, 0, within(-40, 40), 'a gain from -40 to 40 (dB)'),
    };
  },
  isIdentity: (s) => s.ratio === 1 && s.makeupGain === 0,
  create: (s) => new CompressorKernel(s),
};

export const LOUDNESS_NORMALIZE_SPEC: FilterSpec<LoudnessNormalizeSettings> = {
  name: 'loudnessNormalize',
  normalize(value, field = 'loudnessNormalize') {
    const o = objectAt(value, field);
    return {
      targetLufs: numberAt(o, 'targetLufs', field, -14, within(-70, 0), 'a loudness from -70 to 0 (LUFS)'),
      maxGainDb: numberAt(o, 'maxGainDb', field, 20, within(0, 60), 'a gain from 0 to 60 (dB)'),
    };
  },
  isIdentity: () => false,
  create: (s) => new LoudnessNormalizeKernel(s),
};

/**
 * Lavalink's `volume` filter value (0 … 5, 1 = 100 %) as the linear gain Lavalink applies:
 * lavadsp's curve `tan(0.79·v)` up to 1.5 (1.009 at 1, 0.417 at 0.5), `1.6408·v` above, and
 * exactly 1 within 0.02 of 1.
 */
export function lavalinkVolumeGain(volume: number): number {
  if (Math.abs(1 - volume) < 0.02) return 1;
  return volume <= 1.5 ? Math.tan(volume * 0.79) : (24612 * (volume * 100)) / 150 / 10000;
}

/** Lavalink's `volume` filter (filters() only; the `volume` operator is linear). */
export const LAVALINK_VOLUME_SPEC: FilterSpec<GainSettings> = {
  name: 'volume',
  normalize(value, field = 'volume') {
    if (typeof value !== 'number' || !(value >= 0 && value <= 5)) throw new InvalidFilterError(field, value, 'a number from 0 to 5');
    return { gain: lavalinkVolumeGain(value) };
  },
  isIdentity: (s) => s.gain === 1,
  create: (s) => new GainKernel(s),
};
