import { Biquad } from './Biquad';
import type { StereoKernel } from './StereoKernel';

/** Centre frequencies of the 15 bands (Lavalink's, band 0 … 14), Hz: 2/3 octave apart. */
export const EQUALIZER_BANDS_HZ: readonly number[] = [25, 40, 63, 100, 160, 250, 400, 630, 1000, 1600, 2500, 4000, 6300, 10000, 16000];

/** Number of bands. */
export const EQUALIZER_BAND_COUNT = EQUALIZER_BANDS_HZ.length;

/** Band-pass sections, one per band: 2/3 octave wide (the band spacing), 0 dB at the centre. */
const SECTIONS = EQUALIZER_BANDS_HZ.map((hz) => Biquad.bandPass(hz, 2 / 3));

/**
 * Lavalink's 15-band equalizer, as a parallel filter bank: the output is the input plus
 * every band's band-passed signal weighted by 4 × its gain,
 * `y = x + Σ 4·gain[b]·bandpass_b(x)`, clipped to ±1. So at a band's centre a gain of 0.25
 * doubles the signal, −0.25 cancels it (the band is muted) and 0 leaves it; far from the
 * band the band-pass output is small and in quadrature, so other frequencies barely move.
 *
 * Settings: 15 gains (Lavalink's scale, −0.25 … 1). Only bands with a non-zero gain are
 * computed; a band whose gain becomes 0 has its memory cleared, so when it comes back its
 * filter starts from rest.
 */
export class EqualizerKernel implements StereoKernel<readonly number[]> {
  /** Per band: 4 × gain. */
  private readonly weights = new Float64Array(EQUALIZER_BAND_COUNT);
  /** Per band: left y[n−1], y[n−2], right y[n−1], y[n−2]. */
  private readonly outputs = new Float64Array(EQUALIZER_BAND_COUNT * 4);
  /** Input history shared by all bands: left x[n−1], x[n−2], right x[n−1], x[n−2]. */
  private readonly inputs = new Float64Array(4);
  private active: number[] = [];
  private sum = new Float64Array(1920);

  constructor(gains: readonly number[]) {
    this.configure(gains);
  }

  configure(gains: readonly number[]): void {
    const active: number[] = [];
    for (let b = 0; b < EQUALIZER_BAND_COUNT; b++) {
      const w = 4 * (gains[b] ?? 0);
      if (w === 0 && this.weights[b] !== 0) this.outputs.fill(0, 4 * b, 4 * b + 4);
      this.weights[b] = w;
      if (w !== 0) active.push(b);
    }
    this.active = active;
  }

  process(samples: Float64Array, pairs: number): void {
    const n = pairs * 2;
    if (this.sum.length < n) this.sum = new Float64Array(n);
    const sum = this.sum;
    for (let i = 0; i < n; i++) sum[i] = samples[i];
    const { weights, outputs, inputs } = this;
    for (const b of this.active) {
      const k = weights[b];
      const { b0, a1, a2 } = SECTIONS[b];
      for (let ch = 0; ch < 2; ch++) {
        let x1 = inputs[2 * ch];
        let x2 = inputs[2 * ch + 1];
        let y1 = outputs[4 * b + 2 * ch];
        let y2 = outputs[4 * b + 2 * ch + 1];
        for (let i = ch; i < n; i += 2) {
          const x = samples[i];
          const y = b0 * (x - x2) - a1 * y1 - a2 * y2;
          x2 = x1;
          x1 = x;
          y2 = y1;
          y1 = y;
          sum[i] += k * y;
        }
        outputs[4 * b + 2 * ch] = y1;
        outputs[4 * b + 2 * ch + 1] = y2;
      }
    }
    for (let ch = 0; ch < 2; ch++) {
      if (pairs >= 2) {
        inputs[2 * ch] = samples[n - 2 + ch];
        inputs[2 * ch + 1] = samples[n - 4 + ch];
      } else if (pairs === 1) {
        inputs[2 * ch + 1] = inputs[2 * ch];
        inputs[2 * ch] = samples[ch];
      }
    }
    for (let i = 0; i < n; i++) {
      const v = sum[i];
      samples[i] = v > 1 ? 1 : v < -1 ? -1 : v;
    }
  }

  clone(): EqualizerKernel {
    const copy = new EqualizerKernel(Array.from(this.weights, (w) => w / 4));
    copy.outputs.set(this.outputs);
    copy.inputs.set(this.inputs);
    return copy;
  }
}
