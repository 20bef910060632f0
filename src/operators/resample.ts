import { Observable, type OperatorFunction } from 'rxjs';
import { CHANNELS, FRAME_MS, SAMPLE_RATE, type PcmFrame } from '../core/audioFormat';
import { RxVoiceError } from '../errors';
import { describeValue } from './internal/describeValue';
import { allocInt16, readInt16, toLittleEndian } from './internal/pcm16';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { round, ceil, sin, sqrt, PI } = Math;

/** Layout of s16le interleaved PCM for {@link resample}. */
export interface ResampleFormat {
  /** Samples per second per channel, Hz: an integer in 1000‥384000. */
  sampleRate: number;
  /** Interleaved channels: 1 (mono) or 2 (stereo, L R). */
  channels: 1 | 2;
}

/** Options of {@link resample}. */
export interface ResampleOptions {
  /** Format of the incoming chunks. */
  from: ResampleFormat;
  /**
   * Output format. Default 48000 Hz stereo, rxvoice's {@link PcmFrame}. Its sample rate
   * must be a multiple of 50 so that 20 ms is a whole number of samples.
   */
  to?: ResampleFormat;
}

/** Zero crossings of the sinc on each side of the kernel centre (at the lower of the two rates). */
const HALF_ZERO_CROSSINGS = 16;
/** Kaiser window β: ≈ 70 dB stopband. */
const KAISER_BETA = 7;
/** Cutoff as a fraction of the lower Nyquist frequency (leaves room for the transition band). */
const ROLLOFF = 0.92;
/** Most kernel phases kept; a rate ratio needing more uses the nearest of this many. */
const MAX_PHASES = 1024;

/**
 * Converts s16le PCM of any chunking, sample rate and channel count (mono or stereo) to
 * 20 ms frames of another format — by default rxvoice's PCM frame (48 kHz stereo,
 * 3840 bytes).
 *
 * - **Rate conversion**: band-limited interpolation with a Kaiser-windowed sinc
 *   (32 zero crossings at the lower rate, cutoff 0.92 × the lower Nyquist, ≈ 70 dB
 *   stopband), so downsampling does not alias and upsampling does not image. Output
 *   sample `k` sits exactly at input time `k × from / to` (the ratio is kept as an
 *   exact fraction; when it needs more than 1024 kernel phases the nearest one is used).
 *   Equal rates copy samples unchanged.
 * - **State across chunks**: the filter history and any partial sample carry over, so
 *   the output is identical however the input is chunked (no clicks at boundaries).
 * - **Channels**: mono → stereo duplicates the channel; stereo → mono averages L and R
 *   (before resampling).
 * - **Framing**: emits only whole 20 ms frames (`to.sampleRate / 50` samples per
 *   channel); on completion the rest of the signal is flushed and the last partial
 *   frame is zero-padded. Output length is `ceil(inputSamples × to / from)` samples,
 *   rounded up to a whole frame.
 *
 * When `from` equals `to`, this is a pure re-framer: whole frames inside a chunk are
 * emitted as `subarray`s of it (no copy), so they share memory with the input.
 *
 * Emits synchronously while handling the chunk that completes a frame. Completes after
 * the flush when the source completes; a trailing partial *sample* (fewer bytes than one
 * sample of every channel) is dropped. Errors with the source's error (a pending partial
 * frame is discarded).
 *
 * @param options `from` (`{ sampleRate: Hz, channels: 1 | 2 }`), `to` (default
 *   `{ sampleRate: 48000, channels: 2 }`).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` synchronously, on an unsupported format.
 *
 * @example
 * ```ts
 * // chunks of any size, e.g. `fromEvent<Buffer>(mic, 'data')`, 44.1 kHz mono → 3840-byte frames
 * micChunks$.pipe(resample({ from: { sampleRate: 44_100, channels: 1 } }), opusEncode())
 * ```
 */
export function resample(options: ResampleOptions): OperatorFunction<Buffer, PcmFrame> {
  const { from, to = { sampleRate: SAMPLE_RATE, channels: CHANNELS } } = options;
  checkFormat('from', from);
  checkFormat('to', to);
  if (to.sampleRate % (1000 / FRAME_MS) !== 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `resample: to.sampleRate must be a multiple of 50 Hz (whole samples per 20 ms), got ${to.sampleRate}`);
  }
  const identical = from.sampleRate === to.sampleRate && from.channels === to.channels;
  const frameBytes = (to.sampleRate / (1000 / FRAME_MS)) * to.channels * 2;
  const kernel = from.sampleRate === to.sampleRate ? null : makeKernel(from.sampleRate, to.sampleRate);

  return (source) =>
    new Observable<PcmFrame>((subscriber) => {
      const state = identical ? new Reframer(frameBytes) : new Converter(from, to, frameBytes, kernel);
      return source.subscribe({
        next: (chunk) => {
          if (!Buffer.isBuffer(chunk)) {
            subscriber.error(new RxVoiceError('BAD_FRAME', `resample: expected PCM bytes (Buffer), got ${describeValue(chunk)}`));
            return;
          }
          for (const frame of state.push(chunk)) {
            if (subscriber.closed) return;
            subscriber.next(frame);
          }
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          for (const frame of state.flush()) {
            if (subscriber.closed) return;
            subscriber.next(frame);
          }
          subscriber.complete();
        },
      });
    });
}

function checkFormat(name: string, format: ResampleFormat | undefined): void {
  const rate = format?.sampleRate;
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1000 || rate > 384_000) {
    throw new RxVoiceError('INVALID_ARGUMENT', `resample: ${name}.sampleRate must be an integer in 1000..384000 Hz, got ${String(rate)}`);
  }
  if (format?.channels !== 1 && format?.channels !== 2) {
    throw new RxVoiceError('INVALID_ARGUMENT', `resample: ${name}.channels must be 1 or 2, got ${String(format?.channels)}`);
  }
}

interface FrameState {
  push(chunk: Buffer): Buffer[];
  flush(): Buffer[];
}

/** Same format in and out: cut bytes into frames. */
class Reframer implements FrameState {
  private frame: Buffer | null = null;
  private fill = 0;

  constructor(private readonly frameBytes: number) {}

  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let offset = 0;
    if (this.frame) {
      const n = chunk.copy(this.frame, this.fill, 0, this.frameBytes - this.fill);
      this.fill += n;
      offset = n;
      if (this.fill === this.frameBytes) {
        out.push(this.frame);
        this.frame = null;
        this.fill = 0;
      }
    }
    while (chunk.length - offset >= this.frameBytes) {
      out.push(chunk.subarray(offset, offset + this.frameBytes));
      offset += this.frameBytes;
    }
    if (offset < chunk.length) {
      this.frame = Buffer.alloc(this.frameBytes);
      this.fill = chunk.copy(this.frame, 0, offset);
    }
    return out;
  }

  flush(): Buffer[] {
    // Buffer.alloc zero-filled the unfilled tail already.
    const out = this.frame ? [this.frame] : [];
    this.frame = null;
    return out;
  }
}

/** A polyphase windowed-sinc kernel for one rate ratio, shared by all subscriptions. */
interface Kernel {
  /** Output step in input samples is `m / l` (reduced fraction). */
  readonly l: number;
  readonly m: number;
  /** Taps on each side: output at input time `i + f` uses inputs `i − half + 1 … i + half`. */
  readonly half: number;
  /** Rows of `2 × half` taps; row `p` is for fraction `p / phases`, `p` in 0‥phases. */
  readonly phases: number;
  readonly taps: Float32Array;
}

function makeKernel(fromRate: number, toRate: number): Kernel {
  const g = gcd(fromRate, toRate);
  const l = toRate / g;
  const m = fromRate / g;
  const rho = Math.min(1, l / m);
  const half = ceil(HALF_ZERO_CROSSINGS / rho);
  const width = 2 * half;
  const phases = Math.min(l, MAX_PHASES);
  const fc = 0.5 * rho * ROLLOFF; // cycles per input sample
  const i0Beta = besselI0(KAISER_BETA);
  const taps = new Float32Array((phases + 1) * width);
  for (let p = 0; p <= phases; p++) {
    const f = p / phases;
    const row = p * width;
    let sum = 0;
    for (let j = 0; j < width; j++) {
      const x = j - half + 1 - f; // distance from the output instant, input samples
      const r = x / half;
      const w = r * r >= 1 ? 0 : besselI0(KAISER_BETA * sqrt(1 - r * r)) / i0Beta;
      const arg = 2 * fc * x;
      const sinc = arg === 0 ? 1 : sin(PI * arg) / (PI * arg);
      const h = 2 * fc * sinc * w;
      taps[row + j] = h;
      sum += h;
    }
    // Unity gain at DC for every phase (no ripple on steady signals).
    for (let j = 0; j < width; j++) taps[row + j] /= sum;
  }
  return { l, m, half, phases, taps };
}

/** Rate and/or channel conversion. */
class Converter implements FrameState {
  private readonly inChannels: number;
  private readonly outChannels: number;
  /** Channels filtered: 1 when either side is mono. */
  private readonly channels: number;
  private carry: Buffer | null = null;
  /** Pending input per filtered channel; `hist[c][0]` is input sample `histStart`. */
  private hist: Float32Array[];
  private histLen: number;
  private histStart: number;
  /** Input samples received (per channel). */
  private inTotal = 0;
  /** Next output sample sits at input time `ipos + num / l`. */
  private ipos = 0;
  private num = 0;
  private frame: { buffer: Buffer; samples: Int16Array } | null = null;
  private fill = 0;

  constructor(
    from: ResampleFormat,
    to: ResampleFormat,
    private readonly frameBytes: number,
    private readonly kernel: Kernel | null,
  ) {
    this.inChannels = from.channels;
    this.outChannels = to.channels;
    this.channels = Math.min(from.channels, to.channels);
    const half = kernel?.half ?? 0;
    // Silence before the first sample, so the first outputs have full history.
    this.hist = Array.from({ length: this.channels }, () => new Float32Array(Math.max(4096, 4 * half)));
    this.histLen = half;
    this.histStart = -half;
  }

  push(chunk: Buffer): Buffer[] {
    let input = chunk;
    if (this.carry) {
      input = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const bytesPerFrame = 2 * this.inChannels;
    const whole = input.length - (input.length % bytesPerFrame);
    if (whole < input.length) this.carry = Buffer.from(input.subarray(whole));
    const out: Buffer[] = [];
    if (whole > 0) {
      this.append(readInt16(input.subarray(0, whole)), whole / bytesPerFrame);
      this.produce(out, false);
    }
    return out;
  }

  flush(): Buffer[] {
    const out: Buffer[] = [];
    this.carry = null;
    if (this.kernel) {
      // Silence after the last sample lets the outputs up to the end see full history.
      this.appendSilence(this.kernel.half);
    }
    this.produce(out, true);
    if (this.frame && this.fill > 0) out.push(toLittleEndian(this.frame.buffer)); // zero-padded by alloc
    this.frame = null;
    return out;
  }

  /** Appends `count` input sample frames, mixed down to the filtered channels. */
  private append(samples: Int16Array, count: number): void {
    const start = this.reserve(count);
    const inCh = this.inChannels;
    if (this.channels === inCh) {
      for (let c = 0; c < inCh; c++) {
        const h = this.hist[c];
        for (let i = 0, s = c; i < count; i++, s += inCh) h[start + i] = samples[s];
      }
    } else {
      // stereo → mono
      const h = this.hist[0];
      for (let i = 0, s = 0; i < count; i++, s += 2) h[start + i] = (samples[s] + samples[s + 1]) * 0.5;
    }
    this.histLen += count;
    this.inTotal += count;
  }

  private appendSilence(count: number): void {
    const start = this.reserve(count);
    for (const h of this.hist) h.fill(0, start, start + count);
    this.histLen += count;
  }

  /** Makes room for `count` more samples; returns the index to write at. */
  private reserve(count: number): number {
    const need = this.histLen + count;
    if (need > this.hist[0].length) {
      const size = Math.max(need, 2 * this.hist[0].length);
      this.hist = this.hist.map((old) => {
        const grown = new Float32Array(size);
        grown.set(old.subarray(0, this.histLen));
        return grown;
      });
    }
    return this.histLen;
  }

  /** Computes every output sample whose inputs are available; at the end, those before the end of input. */
  private produce(out: Buffer[], final: boolean): void {
    const kernel = this.kernel;
    const outCh = this.outChannels;
    const chans = this.channels;
    const framesPerFrame = this.frameBytes / (2 * outCh);
    if (!kernel) {
      // Same rate: one output per input sample.
      while (this.ipos < this.inTotal) {
        const frame = this.currentFrame();
        const idx = this.ipos - this.histStart;
        this.writeSample(frame.samples, idx, chans, outCh);
        this.ipos++;
        if (this.fill === framesPerFrame) this.emitFrame(out);
      }
      this.discard(this.ipos);
      return;
    }
    const { l, m, half, phases, taps } = kernel;
    const width = 2 * half;
    const exact = phases === l;
    const lastAvailable = this.histStart + this.histLen - 1;
    const hist = this.hist;
    while (final ? this.ipos < this.inTotal : this.ipos + half <= lastAvailable) {
      const frame = this.currentFrame();
      const phase = exact ? this.num : round((this.num * phases) / l);
      const row = phase * width;
      const base = this.ipos - half + 1 - this.histStart;
      const samples = frame.samples;
      for (let c = 0; c < chans; c++) {
        const h = hist[c];
        let acc = 0;
        for (let j = 0; j < width; j++) acc += taps[row + j] * h[base + j];
        let v = round(acc);
        if (v > 32767) v = 32767;
        else if (v < -32768) v = -32768;
        if (chans === outCh) samples[this.fill * outCh + c] = v;
        else {
          // mono → stereo
          samples[this.fill * 2] = v;
          samples[this.fill * 2 + 1] = v;
        }
      }
      this.fill++;
      this.num += m;
      if (this.num >= l) {
        this.ipos += (this.num / l) | 0;
        this.num %= l;
      }
      if (this.fill === framesPerFrame) this.emitFrame(out);
    }
    this.discard(this.ipos - half + 1);
  }

  /** Copies filtered sample `idx` to the frame (same-rate path). */
  private writeSample(samples: Int16Array, idx: number, chans: number, outCh: number): void {
    if (chans === outCh) {
      for (let c = 0; c < chans; c++) samples[this.fill * outCh + c] = round(this.hist[c][idx]);
    } else {
      const v = round(this.hist[0][idx]);
      samples[this.fill * 2] = v;
      samples[this.fill * 2 + 1] = v;
    }
    this.fill++;
  }

  private currentFrame(): { buffer: Buffer; samples: Int16Array } {
    this.frame ??= allocInt16(this.frameBytes);
    return this.frame;
  }

  private emitFrame(out: Buffer[]): void {
    if (this.frame) out.push(toLittleEndian(this.frame.buffer));
    this.frame = null;
    this.fill = 0;
  }

  /** Drops history before absolute input sample `keepFrom`. */
  private discard(keepFrom: number): void {
    const drop = Math.min(keepFrom - this.histStart, this.histLen);
    if (drop <= 0) return;
    for (const h of this.hist) h.copyWithin(0, drop, this.histLen);
    this.histLen -= drop;
    this.histStart += drop;
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Modified Bessel function of the first kind, order 0 (power series). */
function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}
