import { SAMPLE_RATE } from '../core/audioFormat';
import { LoudnessMeter } from './LoudnessMeter';
import type { StereoKernel } from './StereoKernel';

// Bound once: a global `Math` lookup per call is much slower inside jest's vm sandbox.
const { exp, LN10 } = Math;

/** Settings of {@link LoudnessNormalizeKernel}. */
export interface LoudnessNormalizeSettings {
  /** Wanted integrated loudness, LUFS. */
  readonly targetLufs: number;
  /** Most gain it may add, dB (quiet tracks are brought up at most this much). */
  readonly maxGainDb: number;
}

/** Time constant of the gain following the loudness estimate, s. */
const GAIN_TIME_CONSTANT_S = 0.5;
/** Most attenuation, dB. */
const MAX_CUT_DB = 60;

/**
 * Loudness normalization: measures the input's integrated loudness as it plays
 * ({@link LoudnessMeter}, BS.1770-4 with gating) and applies `target − measured` dB of gain
 * (at most `maxGainDb` up, 60 dB down). The estimate is updated every 100 ms once 400 ms are
 * in — before that the gain is 0 dB — and converges on the track's integrated loudness as the
 * track goes on; the gain follows it with a 0.5 s time constant, ramped linearly across each
 * frame.
 */
export class LoudnessNormalizeKernel implements StereoKernel<LoudnessNormalizeSettings> {
  private meter = new LoudnessMeter();
  private target = -14;
  private maxGain = 20;
  /** Current gain, dB. */
  private gainDb = 0;
  /** Gain the estimate asks for, dB; NaN until there is an estimate. */
  private wantedDb = NaN;

  constructor(settings: LoudnessNormalizeSettings) {
    this.configure(settings);
  }

  configure(s: LoudnessNormalizeSettings): void {
    this.target = s.targetLufs;
    this.maxGain = s.maxGainDb;
    this.updateWanted();
  }

  /** The current integrated-loudness estimate of the input, LUFS (`-Infinity` until there is one). */
  get measuredLufs(): number {
    return this.meter.integrated();
  }

  /** The gain being applied at the end of the last frame, dB. */
  get currentGainDb(): number {
    return this.gainDb;
  }

  private updateWanted(): void {
    const measured = this.meter.integrated();
    if (measured === -Infinity) return;
    const wanted = this.target - measured;
    this.wantedDb = wanted > this.maxGain ? this.maxGain : wanted < -MAX_CUT_DB ? -MAX_CUT_DB : wanted;
  }

  process(samples: Float64Array, pairs: number): void {
    if (pairs === 0) return;
    const from = exp((this.gainDb * LN10) / 20);
    if (this.meter.push(samples, pairs) > 0) this.updateWanted();
    const wanted = this.wantedDb;
    if (wanted === wanted) {
      this.gainDb = wanted + (this.gainDb - wanted) * exp(-pairs / (GAIN_TIME_CONSTANT_S * SAMPLE_RATE));
    }
    const to = exp((this.gainDb * LN10) / 20);
    const step = (to - from) / pairs;
    const n = pairs * 2;
    for (let i = 0, k = 1; i < n; i += 2, k++) {
      const g = from + step * k;
      samples[i] *= g;
      samples[i + 1] *= g;
    }
  }

  clone(): LoudnessNormalizeKernel {
    const copy = Object.create(LoudnessNormalizeKernel.prototype) as LoudnessNormalizeKernel;
    Object.assign(copy, this);
    copy.meter = this.meter.clone();
    return copy;
  }
}
