import { SAMPLE_RATE } from '../core/audioFormat';
import type { StereoKernel } from './StereoKernel';

// Bound once: a global `Math` lookup per call is much slower inside jest's vm sandbox.
const { exp, cos, sqrt, PI } = Math;

/** Settings of {@link KaraokeKernel} (Lavalink's `karaoke`). */
export interface KaraokeSettings {
  /** How much of the centre is cut, 0 … 1 (0 = no effect). */
  readonly level: number;
  /** How much of the mono band is put back, 0 … 1. */
  readonly monoLevel: number;
  /** Centre of the band that is kept, Hz. */
  readonly filterBand: number;
  /** Width of that band, Hz. */
  readonly filterWidth: number;
}

/**
 * Lavalink's karaoke (centre cut): each channel minus `level` × the other removes what is
 * identical in both (usually the vocal), and the mono sum band-passed around `filterBand`
 * (a two-pole resonator `filterWidth` Hz wide, unity gain at its peak) is added back, scaled
 * by `monoLevel × level`, so bass and kick survive:
 *
 * `m = (L + R)/2; y = A·m − B·y₁ − C·y₂; L' = L − level·R + monoLevel·level·y; R' = R − level·L + monoLevel·level·y`
 *
 * with `C = e^(−2π·width/fs)`, `B = −4C/(1+C)·cos(2π·band/fs)`, `A = (1−C)·√(1 − B²/4C)`.
 * A sound on one side only stays on its side and also appears, inverted and scaled by
 * `level`, on the other.
 */
export class KaraokeKernel implements StereoKernel<KaraokeSettings> {
  private level = 0;
  private mono = 0;
  private a = 0;
  private b = 0;
  private c = 0;
  private y1 = 0;
  private y2 = 0;

  constructor(settings: KaraokeSettings) {
    this.configure(settings);
  }

  configure(s: KaraokeSettings): void {
    this.level = s.level;
    this.mono = s.monoLevel * s.level;
    const c = exp((-2 * PI * s.filterWidth) / SAMPLE_RATE);
    const b = ((-4 * c) / (1 + c)) * cos((2 * PI * s.filterBand) / SAMPLE_RATE);
    const under = c > 0 ? 1 - (b * b) / (4 * c) : 1;
    this.a = sqrt(under > 0 ? under : 0) * (1 - c);
    this.b = b;
    this.c = c;
  }

  process(samples: Float64Array, pairs: number): void {
    const { level, mono, a, b, c } = this;
    let y1 = this.y1;
    let y2 = this.y2;
    const n = pairs * 2;
    for (let i = 0; i < n; i += 2) {
      const l = samples[i];
      const r = samples[i + 1];
      const y = a * ((l + r) * 0.5) - b * y1 - c * y2;
      y2 = y1;
      y1 = y;
      const o = y * mono;
      samples[i] = l - r * level + o;
      samples[i + 1] = r - l * level + o;
    }
    this.y1 = y1;
    this.y2 = y2;
  }

  clone(): KaraokeKernel {
    const copy = Object.create(KaraokeKernel.prototype) as KaraokeKernel;
    return Object.assign(copy, this);
  }
}
