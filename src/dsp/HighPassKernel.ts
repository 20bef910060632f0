import { Biquad } from './Biquad';
import type { StereoKernel } from './StereoKernel';

/** Settings of {@link HighPassKernel}. */
export interface HighPassSettings {
  /** −3 dB frequency at q = 1/√2, Hz. */
  readonly cutoffHz: number;
  /** Quality factor (1/√2: Butterworth, maximally flat). */
  readonly q: number;
}

/** A 12 dB/octave high-pass (one biquad per channel). */
export class HighPassKernel implements StereoKernel<HighPassSettings> {
  private section: Biquad;

  constructor(settings: HighPassSettings) {
    this.section = Biquad.highPass(settings.cutoffHz, settings.q);
  }

  configure(s: HighPassSettings): void {
    this.section = this.section.withCoefficients(Biquad.highPass(s.cutoffHz, s.q));
  }

  process(samples: Float64Array, pairs: number): void {
    this.section.process(samples, pairs);
  }

  clone(): HighPassKernel {
    const copy = Object.create(HighPassKernel.prototype) as HighPassKernel;
    copy.section = this.section.clone();
    return copy;
  }
}
