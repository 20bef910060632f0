import type { StereoKernel } from './StereoKernel';

/** Settings of {@link ChannelMixKernel} (Lavalink's `channelMix`). */
export interface ChannelMixSettings {
  readonly leftToLeft: number;
  readonly leftToRight: number;
  readonly rightToLeft: number;
  readonly rightToRight: number;
}

/**
 * Lavalink's channel mix: `L' = leftToLeft·L + rightToLeft·R`,
 * `R' = leftToRight·L + rightToRight·R`, each clipped to ±1.
 */
export class ChannelMixKernel implements StereoKernel<ChannelMixSettings> {
  private s: ChannelMixSettings;

  constructor(settings: ChannelMixSettings) {
    this.s = settings;
  }

  configure(settings: ChannelMixSettings): void {
    this.s = settings;
  }

  process(samples: Float64Array, pairs: number): void {
    const { leftToLeft, leftToRight, rightToLeft, rightToRight } = this.s;
    const n = pairs * 2;
    for (let i = 0; i < n; i += 2) {
      const l = samples[i];
      const r = samples[i + 1];
      const a = leftToLeft * l + rightToLeft * r;
      const b = leftToRight * l + rightToRight * r;
      samples[i] = a > 1 ? 1 : a < -1 ? -1 : a;
      samples[i + 1] = b > 1 ? 1 : b < -1 ? -1 : b;
    }
  }

  clone(): ChannelMixKernel {
    return new ChannelMixKernel(this.s);
  }
}
