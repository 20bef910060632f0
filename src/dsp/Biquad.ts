import { SAMPLE_RATE } from '../core/audioFormat';

// Bound once: a global `Math` lookup per call is much slower inside jest's vm sandbox.
const { sin, cos, sinh, PI, LN2 } = Math;

/**
 * A second-order IIR section (biquad) over interleaved stereo, one state per channel,
 * transposed direct form II:
 * `y = b0·x + s1; s1 = b1·x − a1·y + s2; s2 = b2·x − a2·y` (coefficients normalized by a0).
 *
 * Designs follow the textbook bilinear-transform formulas (R. Bristow-Johnson's "Audio EQ
 * Cookbook" parameterization) at 48 kHz.
 */
export class Biquad {
  /** [left s1, left s2, right s1, right s2]. */
  private readonly state = new Float64Array(4);

  constructor(
    readonly b0: number,
    readonly b1: number,
    readonly b2: number,
    readonly a1: number,
    readonly a2: number,
  ) {}

  /**
   * Band-pass with 0 dB gain at the centre, `bandwidthOctaves` wide between the −3 dB points
   * (bandwidth pre-warped for the bilinear transform).
   */
  static bandPass(centerHz: number, bandwidthOctaves: number, sampleRate = SAMPLE_RATE): Biquad {
    const w0 = (2 * PI * centerHz) / sampleRate;
    const alpha = sin(w0) * sinh(((LN2 / 2) * bandwidthOctaves * w0) / sin(w0));
    const a0 = 1 + alpha;
    return new Biquad(alpha / a0, 0, -alpha / a0, (-2 * cos(w0)) / a0, (1 - alpha) / a0);
  }

  /** High-pass, −3 dB at `cutoffHz` for `q` = 1/√2 (Butterworth). */
  static highPass(cutoffHz: number, q = Math.SQRT1_2, sampleRate = SAMPLE_RATE): Biquad {
    const w0 = (2 * PI * cutoffHz) / sampleRate;
    const alpha = sin(w0) / (2 * q);
    const c = cos(w0);
    const a0 = 1 + alpha;
    return new Biquad((1 + c) / 2 / a0, -(1 + c) / a0, (1 + c) / 2 / a0, (-2 * c) / a0, (1 - alpha) / a0);
  }

  /** Filters `pairs` interleaved stereo pairs of `samples` in place. */
  process(samples: Float64Array, pairs: number): void {
    const { b0, b1, b2, a1, a2, state } = this;
    const n = pairs * 2;
    for (let ch = 0; ch < 2; ch++) {
      let s1 = state[2 * ch];
      let s2 = state[2 * ch + 1];
      for (let i = ch; i < n; i += 2) {
        const x = samples[i];
        const y = b0 * x + s1;
        s1 = b1 * x - a1 * y + s2;
        s2 = b2 * x - a2 * y;
        samples[i] = y;
      }
      state[2 * ch] = s1;
      state[2 * ch + 1] = s2;
    }
  }

  /** Clears the filter memory. */
  reset(): void {
    this.state.fill(0);
  }

  /** A copy with the same coefficients and state. */
  clone(): Biquad {
    const copy = new Biquad(this.b0, this.b1, this.b2, this.a1, this.a2);
    copy.state.set(this.state);
    return copy;
  }

  /** A copy with other coefficients and this one's state (for a change of settings). */
  withCoefficients(other: Biquad): Biquad {
    const copy = new Biquad(other.b0, other.b1, other.b2, other.a1, other.a2);
    copy.state.set(this.state);
    return copy;
  }
}
