import type { StereoKernel } from './StereoKernel';

/** Settings of {@link GainKernel}. */
export interface GainSettings {
  /** Linear factor ≥ 0. */
  readonly gain: number;
}

/** A fixed linear gain, clipped to ±1 (Lavalink's `volume` filter after its curve). */
export class GainKernel implements StereoKernel<GainSettings> {
  private gain = 1;

  constructor(settings: GainSettings) {
    this.configure(settings);
  }

  configure(s: GainSettings): void {
    this.gain = s.gain;
  }

  process(samples: Float64Array, pairs: number): void {
    const g = this.gain;
    const n = pairs * 2;
    for (let i = 0; i < n; i++) {
      const v = samples[i] * g;
      samples[i] = v > 1 ? 1 : v < -1 ? -1 : v;
    }
  }

  clone(): GainKernel {
    return new GainKernel({ gain: this.gain });
  }
}
