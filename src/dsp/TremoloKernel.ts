import { SAMPLE_RATE } from '../core/audioFormat';
import { Lfo } from './Lfo';
import type { StereoKernel } from './StereoKernel';

/** Settings of {@link TremoloKernel} (Lavalink's `tremolo`). */
export interface TremoloSettings {
  /** Modulation rate, Hz (> 0). */
  readonly frequency: number;
  /** Modulation depth, 0 … 1: the gain swings between 1 − depth and 1. */
  readonly depth: number;
}

/**
 * Lavalink's tremolo: amplitude modulation by a sine,
 * `gain = 1 − depth/2 + depth/2 · sin(2π·frequency·t)`, so the gain goes from 1 − depth to 1
 * (both channels alike, the phase starting at 0).
 */
export class TremoloKernel implements StereoKernel<TremoloSettings> {
  private step = 0;
  private half = 0;
  private lfo = new Lfo();
  private wave = new Float64Array(960);

  constructor(settings: TremoloSettings) {
    this.configure(settings);
  }

  configure(s: TremoloSettings): void {
    this.step = (2 * Math.PI * s.frequency) / SAMPLE_RATE;
    this.half = s.depth / 2;
  }

  process(samples: Float64Array, pairs: number): void {
    if (this.wave.length < pairs) this.wave = new Float64Array(pairs);
    const wave = this.wave;
    this.lfo.fill(wave, pairs, this.step);
    const half = this.half;
    const base = 1 - half;
    for (let k = 0, i = 0; k < pairs; k++, i += 2) {
      const g = base + half * wave[k];
      samples[i] *= g;
      samples[i + 1] *= g;
    }
  }

  clone(): TremoloKernel {
    const copy = new TremoloKernel({ frequency: 0, depth: 0 });
    copy.step = this.step;
    copy.half = this.half;
    copy.lfo = this.lfo.clone();
    return copy;
  }
}
