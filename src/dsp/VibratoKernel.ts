import { SAMPLE_RATE } from '../core/audioFormat';
import { Lfo } from './Lfo';
import type { StereoKernel } from './StereoKernel';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { floor } = Math;

/** Settings of {@link VibratoKernel} (Lavalink's `vibrato`). */
export interface VibratoSettings {
  /** Modulation rate, Hz (0 < f ≤ 14). */
  readonly frequency: number;
  /** Modulation depth, 0 … 1 (1: the delay sweeps over 2 ms). */
  readonly depth: number;
}

/** Longest sweep of the delay at depth 1: 2 ms, in samples. */
const SWEEP = Math.floor(0.002 * SAMPLE_RATE);
/** Delay at the bottom of the sweep, samples (room for the interpolator). */
const MIN_DELAY = 3;
/** Ring buffer per channel: a power of two above SWEEP + MIN_DELAY + 3. */
const RING = 256;
const MASK = RING - 1;

/**
 * Lavalink's vibrato: pitch modulation through a modulated delay line. The delay is
 * `3 + depth · 96 · (1 + sin(2π·frequency·t))/2` samples (up to 2 ms more at depth 1), read
 * between samples with 4-point cubic Hermite interpolation; as the delay grows and shrinks
 * the pitch bends down and up. Both channels alike.
 */
export class VibratoKernel implements StereoKernel<VibratoSettings> {
  private step = 0;
  private sweep = 0;
  private lfo = new Lfo();
  private wave = new Float64Array(960);
  /** Left ring then right ring. */
  private ring = new Float64Array(2 * RING);
  /** Next write position (same for both channels). */
  private write = 0;

  constructor(settings: VibratoSettings) {
    this.configure(settings);
  }

  configure(s: VibratoSettings): void {
    this.step = (2 * Math.PI * s.frequency) / SAMPLE_RATE;
    this.sweep = s.depth * SWEEP;
  }

  process(samples: Float64Array, pairs: number): void {
    if (this.wave.length < pairs) this.wave = new Float64Array(pairs);
    const wave = this.wave;
    this.lfo.fill(wave, pairs, this.step);
    const { ring, sweep } = this;
    let w = this.write;
    for (let k = 0, i = 0; k < pairs; k++, i += 2) {
      const delay = MIN_DELAY + sweep * (wave[k] + 1) * 0.5;
      // Read position `delay` samples before the newest stored sample (w − 1).
      const pos = w - 1 - delay;
      const base = floor(pos);
      const t = pos - base;
      const i0 = (base - 1) & MASK;
      const i1 = base & MASK;
      const i2 = (base + 1) & MASK;
      const i3 = (base + 2) & MASK;
      for (let ch = 0; ch < 2; ch++) {
        const o = ch * RING;
        const y0 = ring[o + i0];
        const y1 = ring[o + i1];
        const y2 = ring[o + i2];
        const y3 = ring[o + i3];
        // Cubic Hermite (Catmull-Rom) through y1 … y2 with slopes from the neighbours.
        const c1 = 0.5 * (y2 - y0);
        const c2 = y0 - 2.5 * y1 + 2 * y2 - 0.5 * y3;
        const c3 = 0.5 * (y3 - y0) + 1.5 * (y1 - y2);
        const x = samples[i + ch];
        samples[i + ch] = ((c3 * t + c2) * t + c1) * t + y1;
        ring[o + (w & MASK)] = x;
      }
      w = (w + 1) & MASK;
    }
    this.write = w;
  }

  clone(): VibratoKernel {
    const copy = new VibratoKernel({ frequency: 0, depth: 0 });
    copy.step = this.step;
    copy.sweep = this.sweep;
    copy.lfo = this.lfo.clone();
    copy.ring.set(this.ring);
    copy.write = this.write;
    return copy;
  }
}
