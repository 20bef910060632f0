import type { StereoKernel } from './StereoKernel';

/** Settings of {@link SmoothingLowPassKernel} (Lavalink's `lowPass`). */
export interface SmoothingLowPassSettings {
  /** Smoothing factor, > 1 (larger: lower cutoff). */
  readonly smoothing: number;
}

/**
 * Lavalink's low-pass: exponential smoothing per channel,
 * `v += (x − v) / smoothing; y = v` — a one-pole low-pass with its −3 dB point near
 * `fs / (2π·smoothing)` (≈ 380 Hz at smoothing 20) and 6 dB per octave above. The memory
 * starts at the first input sample, so there is no start-up transient.
 */
export class SmoothingLowPassKernel implements StereoKernel<SmoothingLowPassSettings> {
  private alpha = 1;
  private left = 0;
  private right = 0;
  private started = false;

  constructor(settings: SmoothingLowPassSettings) {
    this.configure(settings);
  }

  configure(s: SmoothingLowPassSettings): void {
    this.alpha = 1 / s.smoothing;
  }

  process(samples: Float64Array, pairs: number): void {
    if (pairs === 0) return;
    if (!this.started) {
      this.left = samples[0];
      this.right = samples[1];
      this.started = true;
    }
    const alpha = this.alpha;
    let l = this.left;
    let r = this.right;
    const n = pairs * 2;
    for (let i = 0; i < n; i += 2) {
      l += (samples[i] - l) * alpha;
      r += (samples[i + 1] - r) * alpha;
      samples[i] = l;
      samples[i + 1] = r;
    }
    this.left = l;
    this.right = r;
  }

  clone(): SmoothingLowPassKernel {
    const copy = Object.create(SmoothingLowPassKernel.prototype) as SmoothingLowPassKernel;
    return Object.assign(copy, this);
  }
}
