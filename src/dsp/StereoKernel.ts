/**
 * The contract of rxvoice's DSP kernels (`src/dsp/`): pure audio processing, no RxJS, no
 * `Buffer`s. A kernel works in place on interleaved stereo samples (L R L R …) as floats
 * with full scale ±1, at 48 kHz, and keeps whatever state it needs between calls (filter
 * memories, oscillator phases), so consecutive calls process a continuous signal.
 *
 * Live parameter changes are made by the operator layer (`operators/internal/liveParams`):
 * it clones the running kernel, configures the clone with the new settings, runs both on
 * the next frame and crossfades from the old output to the new one, so a kernel never has to
 * ramp its own parameters.
 *
 * @typeParam S the kernel's normalized settings (validated by the operator layer).
 */
export interface StereoKernel<S> {
  /** Processes `pairs` sample pairs of `samples` (interleaved L R) in place. */
  process(samples: Float64Array, pairs: number): void;
  /** Takes new settings at once (no ramp; the caller crossfades). State is kept. */
  configure(settings: S): void;
  /** An independent copy with the same settings and state. */
  clone(): StereoKernel<S>;
}
