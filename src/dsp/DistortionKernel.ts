import type { StereoKernel } from './StereoKernel';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { sin, cos, tan } = Math;

/** Settings of {@link DistortionKernel} (Lavalink's `distortion`). */
export interface DistortionSettings {
  readonly sinOffset: number;
  readonly sinScale: number;
  readonly cosOffset: number;
  readonly cosScale: number;
  readonly tanOffset: number;
  readonly tanScale: number;
  readonly offset: number;
  readonly scale: number;
}

/**
 * Lavalink's distortion: a memoryless waveshaper applied to every sample `x` (full scale ±1),
 * `y = offset + scale · (sinOffset + sin(sinScale·x)) · (cosOffset + cos(cosScale·x)) · (tanOffset + tan(tanScale·x))`,
 * clipped to ±1. (With Lavalink's defaults — offsets 0, scales 1 — this would be sin²x, but
 * Lavalink then leaves the filter out; the operator layer does the same.)
 */
export class DistortionKernel implements StereoKernel<DistortionSettings> {
  private s: DistortionSettings;

  constructor(settings: DistortionSettings) {
    this.s = settings;
  }

  configure(settings: DistortionSettings): void {
    this.s = settings;
  }

  process(samples: Float64Array, pairs: number): void {
    const { sinOffset, sinScale, cosOffset, cosScale, tanOffset, tanScale, offset, scale } = this.s;
    const n = pairs * 2;
    for (let i = 0; i < n; i++) {
      const x = samples[i];
      const y = offset + scale * (sinOffset + sin(x * sinScale)) * (cosOffset + cos(x * cosScale)) * (tanOffset + tan(x * tanScale));
      // NaN (e.g. from ∞·0) becomes silence rather than poisoning later stages.
      samples[i] = y > 1 ? 1 : y < -1 ? -1 : y === y ? y : 0;
    }
  }

  clone(): DistortionKernel {
    return new DistortionKernel(this.s);
  }
}
