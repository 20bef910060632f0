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
    const { weights, outputs, inputs, active } = this;
    const xl1 = inputs[0];
    const xl2 = inputs[1];
    const xr1 = inputs[2];
    const xr2 = inputs[3];
    // Two bands at a time, both channels in the same pass: four independent recurrences per
    // iteration, so the CPU overlaps their latencies.
    let j = 0;
    for (; j + 1 < active.length; j += 2) {
      const b = active[j];
      const c = active[j + 1];
      const kb = weights[b];
      const kc = weights[c];
      const { b0: gb, a1: pb, a2: qb } = SECTIONS[b];
      const { b0: gc, a1: pc, a2: qc } = SECTIONS[c];
      let bl1 = outputs[4 * b];
      let bl2 = outputs[4 * b + 1];
      let br1 = outputs[4 * b + 2];
      let br2 = outputs[4 * b + 3];
      let cl1 = outputs[4 * c];
      let cl2 = outputs[4 * c + 1];
      let cr1 = outputs[4 * c + 2];
      let cr2 = outputs[4 * c + 3];
      let l1 = xl1;
      let l2 = xl2;
      let r1 = xr1;
      let r2 = xr2;
      for (let i = 0; i < n; i += 2) {
        const l = samples[i];
        const r = samples[i + 1];
        const dl = l - l2;
        const dr = r - r2;
        const ybl = gb * dl - pb * bl1 - qb * bl2;
        const ybr = gb * dr - pb * br1 - qb * br2;
        const ycl = gc * dl - pc * cl1 - qc * cl2;
        const ycr = gc * dr - pc * cr1 - qc * cr2;
        sum[i] += kb * ybl + kc * ycl;
        sum[i + 1] += kb * ybr + kc * ycr;
        l2 = l1;
        l1 = l;
        r2 = r1;
        r1 = r;
        bl2 = bl1;
        bl1 = ybl;
        br2 = br1;
        br1 = ybr;
        cl2 = cl1;
        cl1 = ycl;
        cr2 = cr1;
        cr1 = ycr;
      }
      outputs[4 * b] = bl1;
      outputs[4 * b + 1] = bl2;
      outputs[4 * b + 2] = br1;
      outputs[4 * b + 3] = br2;
      outputs[4 * c] = cl1;
      outputs[4 * c + 1] = cl2;
      outputs[4 * c + 2] = cr1;
      outputs[4 * c + 3] = cr2;
    }
    if (j < active.length) {
      const b = active[j];
      const k = weights[b];
      const { b0: g, a1: p, a2: q } = SECTIONS[b];
      let yl1 = outputs[4 * b];
      let yl2 = outputs[4 * b + 1];
      let yr1 = outputs[4 * b + 2];
      let yr2 = outputs[4 * b + 3];
      let l1 = xl1;
      let l2 = xl2;
      let r1 = xr1;
      let r2 = xr2;
      for (let i = 0; i < n; i += 2) {
        const l = samples[i];
        const r = samples[i + 1];
        const yl = g * (l - l2) - p * yl1 - q * yl2;
        const yr = g * (r - r2) - p * yr1 - q * yr2;
        sum[i] += k * yl;
        sum[i + 1] += k * yr;
        l2 = l1;
        l1 = l;
        r2 = r1;
        r1 = r;
        yl2 = yl1;
        yl1 = yl;
        yr2 = yr1;
        yr1 = yr;
      }
      outputs[4 * b] = yl1;
      outputs[4 * b + 1] = yl2;
      outputs[4 * b + 2] = yr1;
      outputs[4 * b + 3] = yr2;
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
