// Bound once: a global `Math` lookup per call is much slower inside jest's vm sandbox.
const { sin, cos, PI } = Math;
const TWO_PI = 2 * PI;

/**
 * A phase-continuous sine oscillator for modulation (tremolo, vibrato, rotation): fills a
 * block with `sin(phase + k·step)` using a rotation recurrence (two multiplies per sample
 * instead of a `Math.sin` call), re-anchored on the exact phase at every block so rounding
 * never accumulates.
 */
export class Lfo {
  /** Current phase, radians, kept in (−2π, 2π). */
  phase = 0;

  /**
   * Writes `sin(phase + k·step)` for `k = 0 … count−1` into `out` and advances the phase by
   * `count·step` radians.
   */
  fill(out: Float64Array, count: number, step: number): void {
    let s = sin(this.phase);
    let c = cos(this.phase);
    const ds = sin(step);
    const dc = cos(step);
    for (let k = 0; k < count; k++) {
      out[k] = s;
      const next = s * dc + c * ds;
      c = c * dc - s * ds;
      s = next;
    }
    this.phase = (this.phase + count * step) % TWO_PI;
  }

  /** A copy at the same phase. */
  clone(): Lfo {
    const copy = new Lfo();
    copy.phase = this.phase;
    return copy;
  }
}
