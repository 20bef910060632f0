import { SAMPLE_RATE } from '../core/audioFormat';
import { Lfo } from './Lfo';
import type { StereoKernel } from './StereoKernel';

/** Settings of {@link RotationKernel} (Lavalink's `rotation`). */
export interface RotationSettings {
  /** Rotations per second around the listener, Hz (negative: the other way). */
  readonly rotationHz: number;
}

/**
 * Lavalink's rotation ("8D audio"): the stereo image pans around the listener,
 * `L' = L·(1 + sin x)/2`, `R' = R·(1 − sin x)/2`, `x = 2π·rotationHz·t` — left and right
 * take turns, one full turn every `1/rotationHz` seconds. (On average each channel keeps
 * half its amplitude, as in Lavalink.)
 */
export class RotationKernel implements StereoKernel<RotationSettings> {
  private step = 0;
  private lfo = new Lfo();
  private wave = new Float64Array(960);

  constructor(settings: RotationSettings) {
    this.configure(settings);
  }

  configure(s: RotationSettings): void {
    this.step = (2 * Math.PI * s.rotationHz) / SAMPLE_RATE;
  }

  process(samples: Float64Array, pairs: number): void {
    if (this.wave.length < pairs) this.wave = new Float64Array(pairs);
    const wave = this.wave;
    this.lfo.fill(wave, pairs, this.step);
    for (let k = 0, i = 0; k < pairs; k++, i += 2) {
      const s = wave[k];
      samples[i] *= (1 + s) * 0.5;
      samples[i + 1] *= (1 - s) * 0.5;
    }
  }

  clone(): RotationKernel {
    const copy = new RotationKernel({ rotationHz: 0 });
    copy.step = this.step;
    copy.lfo = this.lfo.clone();
    return copy;
  }
}
