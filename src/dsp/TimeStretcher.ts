import { RateTransposer, Stretch } from 'soundtouch-ts';
import { CHANNELS, SAMPLE_RATE } from '../core/audioFormat';

/** Lavalink's timescale knobs, validated (all > 0). */
export interface TimeStretchSettings {
  /** Tempo factor, pitch kept (1.25 = 25 % faster). */
  readonly speed: number;
  /** Pitch factor, tempo kept (1.5 = a fifth up). */
  readonly pitch: number;
  /** Playback-rate factor: tempo and pitch together, like a faster turntable. */
  readonly rate: number;
}

// Bound once: a global `Math` lookup per sample is much slower inside jest's vm sandbox.
const { round, tan, PI, min, ceil } = Math;

/** Samples per channel fed per step when flushing (silence). */
const FLUSH_CHUNK = 960;

/**
 * Streaming time-stretch / pitch-shift kernel for interleaved stereo s16 at 48 kHz: the DSP
 * behind the `timescale` operator. Internal.
 *
 * Built on SoundTouch's two stages as ported to TypeScript by `soundtouch-ts` (LGPL-2.1):
 * a rate transposer (resampling: changes pitch and duration together) followed by WSOLA
 * time-stretching (`Stretch`: changes duration only, by splicing ~50–125 ms sequences at
 * the best-correlated offset with an 8 ms crossfade). This is the algorithm Lavalink uses
 * (lavadsp's timescale filter wraps SoundTouch), with Lavalink's — i.e. SoundTouch's —
 * semantics: the transposer runs at `pitch × rate` and the stretch at tempo `speed / pitch`,
 * so output duration = input / (speed × rate) and output pitch = input pitch × pitch × rate.
 *
 * Two things rxvoice adds around the library, neither a time-stretcher of its own:
 * - **a fixed stage order** (transposer, then stretch). SoundTouch swaps the stages when
 *   `pitch × rate` crosses 1, which moves buffered audio between them and glitches a live
 *   change; with one order a change is just a new transposer rate and a new WSOLA skip.
 * - **an anti-alias low-pass** before the transposer (4th-order Butterworth at
 *   0.45 × 48 kHz / (pitch × rate), at most 20 kHz). The JS ports resample by linear
 *   interpolation without one (`// TODO aa filter` in their source; SoundTouch's C++ has
 *   it), so nightcore-style rates would fold cymbals back down as audible aliases.
 *
 * Output becomes available in arbitrary amounts: none for the first ~0.1 s (the WSOLA
 * window fills), then about `n / (speed × rate)` per `n` written. {@link flush} ends the
 * input: it pushes silence through and trims so that the total output is exactly the
 * expected duration (as SoundTouch's own `flush()` does).
 *
 * Timeline: {@link inputSamplesWritten} / {@link outputSamplesRead} count samples per
 * channel; {@link inputPosition} is the input sample (per channel, fractional) that the
 * next output sample to be read corresponds to — the integral of `speed × rate` over the
 * output read so far, each output chunk weighted by the settings it was produced with.
 * Neither stage shifts content (output sample 0 is input sample 0, within the WSOLA seek
 * window of a few ms), so this follows the input's timeline, including across changes.
 */
export class TimeStretcher {
  private readonly transposer = new RateTransposer(true);
  private readonly stretch = new Stretch(true, SAMPLE_RATE);
  private readonly antiAlias = new ButterworthLowPass4();
  private settings: TimeStretchSettings;
  private ratio = 1;
  private scratch = new Float32Array(2 * 960);
  /** Output produced but not read yet, as (samples, input samples per output sample) runs. */
  private readonly runs: Array<{ samples: number; ratio: number }> = [];
  private produced = 0;
  private position = 0;
  private written = 0;
  private read = 0;
  /** Output owed for the input written so far (fractional), and the cap after a flush. */
  private expected = 0;
  private limit = Infinity;

  constructor(settings: TimeStretchSettings) {
    this.stretch.inputBuffer = this.transposer.outputBuffer;
    this.settings = settings;
    this.apply(settings);
  }

  /** Settings in force. */
  get current(): TimeStretchSettings {
    return this.settings;
  }

  /**
   * New settings, for the input written from now on. Continuous: the transposer keeps its
   * interpolation phase and the stretch its crossfade buffer, so nothing clicks.
   */
  set(settings: TimeStretchSettings): void {
    this.settings = settings;
    this.apply(settings);
  }

  /** Samples per channel written so far. */
  get inputSamplesWritten(): number {
    return this.written;
  }

  /** Samples per channel read so far. */
  get outputSamplesRead(): number {
    return this.read;
  }

  /** Samples per channel ready to read. */
  get available(): number {
    return min(this.stretch.outputBuffer!.frameCount, this.limit - this.read);
  }

  /** Input sample (per channel, fractional) matching the next output sample to be read. */
  get inputPosition(): number {
    return min(this.position, this.written);
  }

  /** Feeds interleaved stereo samples (`samples.length / 2` per channel). */
  write(samples: Int16Array): void {
    const n = samples.length >> 1;
    if (n === 0) return;
    if (this.scratch.length < 2 * n) this.scratch = new Float32Array(2 * n);
    const f = this.scratch;
    for (let i = 0; i < 2 * n; i++) f[i] = samples[i]! / 32768;
    this.antiAlias.process(f, n);
    this.written += n;
    this.expected += n / this.ratio;
    this.push(f, n);
  }

  /**
   * Copies up to `(target.length - offset) / 2` samples per channel of output into
   * `target` (interleaved) at `offset` (an even index), rounded and saturated to int16;
   * returns the samples per channel copied.
   */
  readInto(target: Int16Array, offset: number): number {
    const n = min((target.length - offset) >> 1, this.available);
    if (n <= 0) return 0;
    const out = this.stretch.outputBuffer!;
    const v = out.vector;
    const start = out.startIndex;
    for (let i = 0; i < 2 * n; i++) {
      const s = round(v[start + i]! * 32768);
      target[offset + i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
    }
    out.receive(n);
    this.consume(n);
    return n;
  }

  /** Drops up to `samples` samples per channel of output (the timeline advances as if read); returns how many. */
  skip(samples: number): number {
    const n = min(samples, this.available);
    if (n <= 0) return 0;
    this.stretch.outputBuffer!.receive(n);
    this.consume(n);
    return n;
  }

  /** All output available now, interleaved. */
  readAll(): Int16Array {
    const out = new Int16Array(this.available * CHANNELS);
    this.readInto(out, 0);
    return out;
  }

  /**
   * Ends the input: pushes silence through both stages until the output owed for
   * everything written is out, and caps the output there (`round(Σ n / (speed × rate))`).
   * Writing after a flush is not supported.
   */
  flush(): void {
    if (this.limit !== Infinity) return;
    const target = round(this.expected);
    // The transposer holds nothing back (one sample of interpolation state), so silence
    // goes straight into the stretch, which needs up to one window + seek range beyond the
    // last input before it emits it: a bounded number of steps.
    const silence = new Float32Array(2 * FLUSH_CHUNK);
    const stretch = this.stretch;
    const owed = (): number => target - this.read - stretch.outputBuffer!.frameCount;
    const maxSteps = ceil((2 * stretch.inputChunkSize + owed() * stretch.tempo) / FLUSH_CHUNK) + 8;
    for (let step = 0; step < maxSteps && owed() > 0; step++) {
      stretch.inputBuffer!.putSamples(silence, 0, FLUSH_CHUNK);
      this.process(false);
    }
    this.limit = target;
  }

  /** Releases the buffers (nothing native to free; kept for symmetry with other kernels). */
  dispose(): void {
    this.transposer.clear();
    this.stretch.clear();
    this.runs.length = 0;
  }

  private apply(s: TimeStretchSettings): void {
    const transpose = s.pitch * s.rate;
    this.transposer.rate = transpose;
    this.stretch.tempo = s.speed / s.pitch;
    this.ratio = s.speed * s.rate;
    this.antiAlias.setCutoff(min(20_000, (0.45 * SAMPLE_RATE) / transpose));
  }

  private push(f: Float32Array, n: number): void {
    this.transposer.inputBuffer!.putSamples(f, 0, n);
    this.process(true);
  }

  private process(transpose: boolean): void {
    if (transpose) this.transposer.process();
    this.stretch.process();
    const total = this.stretch.outputBuffer!.frameCount + this.read;
    const fresh = total - this.produced;
    if (fresh > 0) {
      const last = this.runs[this.runs.length - 1];
      if (last && last.ratio === this.ratio) last.samples += fresh;
      else this.runs.push({ samples: fresh, ratio: this.ratio });
      this.produced = total;
    }
  }

  private consume(samples: number): void {
    this.read += samples;
    let left = samples;
    while (left > 0 && this.runs.length > 0) {
      const run = this.runs[0]!;
      const take = min(left, run.samples);
      this.position += take * run.ratio;
      run.samples -= take;
      left -= take;
      if (run.samples === 0) this.runs.shift();
    }
  }
}

/**
 * 4th-order Butterworth low-pass on interleaved stereo float samples, in place: two
 * cascaded state-variable filters (topology-preserving transform, Q 0.541 and 1.307).
 * Unlike a direct-form biquad, its state is the integrators' charge, so a cutoff change
 * mid-stream moves the response without a transient; the coefficients also glide
 * linearly across the block after a change.
 */
class ButterworthLowPass4 {
  private static readonly DAMPING = [1 / 0.5411961001461969, 1 / 1.3065629648763764];
  /** a1 a2 a3 per section: in force, and the target for the next block. */
  private readonly coeffs = new Float64Array(6);
  private readonly target = new Float64Array(6);
  /** ic1eq ic2eq per section per channel. */
  private readonly state = new Float64Array(8);
  private cutoff = 0;
  private gliding = false;

  setCutoff(hz: number): void {
    if (hz === this.cutoff) return;
    const first = this.cutoff === 0;
    this.cutoff = hz;
    const g = tan((PI * hz) / SAMPLE_RATE);
    for (let s = 0; s < 2; s++) {
      const k = ButterworthLowPass4.DAMPING[s]!;
      const a1 = 1 / (1 + g * (g + k));
      this.target.set([a1, g * a1, g * g * a1], 3 * s);
    }
    if (first) this.coeffs.set(this.target);
    else this.gliding = true;
  }

  process(x: Float32Array, n: number): void {
    if (n <= 0) return;
    const c = this.coeffs;
    const t = this.target;
    const st = this.state;
    const glide = this.gliding;
    for (let s = 0; s < 2; s++) {
      let a1 = c[3 * s]!;
      let a2 = c[3 * s + 1]!;
      let a3 = c[3 * s + 2]!;
      const d1 = glide ? (t[3 * s]! - a1) / n : 0;
      const d2 = glide ? (t[3 * s + 1]! - a2) / n : 0;
      const d3 = glide ? (t[3 * s + 2]! - a3) / n : 0;
      // both channels in one pass: L at even indices, R at odd
      let l1 = st[4 * s]!;
      let l2 = st[4 * s + 1]!;
      let r1 = st[4 * s + 2]!;
      let r2 = st[4 * s + 3]!;
      for (let i = 0; i < 2 * n; i += 2) {
        if (glide) {
          a1 += d1;
          a2 += d2;
          a3 += d3;
        }
        const lv3 = x[i]! - l2;
        const lv1 = a1 * l1 + a2 * lv3;
        const lv2 = l2 + a2 * l1 + a3 * lv3;
        l1 = 2 * lv1 - l1;
        l2 = 2 * lv2 - l2;
        x[i] = lv2;
        const rv3 = x[i + 1]! - r2;
        const rv1 = a1 * r1 + a2 * rv3;
        const rv2 = r2 + a2 * r1 + a3 * rv3;
        r1 = 2 * rv1 - r1;
        r2 = 2 * rv2 - r2;
        x[i + 1] = rv2;
      }
      st[4 * s] = l1;
      st[4 * s + 1] = l2;
      st[4 * s + 2] = r1;
      st[4 * s + 3] = r2;
    }
    if (glide) {
      c.set(t);
      this.gliding = false;
    }
  }
}
