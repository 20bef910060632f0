import { isObservable, Observable, type MonoTypeOperatorFunction, type Observer, type Subscriber } from 'rxjs';
import { CHANNELS, PCM_FRAME_BYTES, SAMPLE_RATE, SAMPLES_PER_FRAME, type PcmFrame } from '../core/audioFormat';
import { currentEmitter, emitAs, type DemandGate } from '../core/FrameDemand';
import { frameMediaMs, setFrameMediaMs } from '../core/mediaTime';
import { TimeStretcher, type TimeStretchSettings } from '../dsp/TimeStretcher';
import { RxVoiceError } from '../errors';
import { readInt16, toLittleEndian } from './internal/pcm16';

/**
 * Lavalink's `timescale` filter parameters. Each is a factor in
 * [{@link TIMESCALE_MIN}, {@link TIMESCALE_MAX}] (1/8 … 8); a missing one is 1.
 */
export interface TimescaleParams {
  /** Tempo without pitch: 1.25 plays 25 % faster at the same pitch. */
  speed?: number;
  /** Pitch without tempo: 1.5 is a fifth up (×1.5 in frequency), 2 an octave. */
  pitch?: number;
  /** Both, like a faster turntable: 2 is twice as fast and an octave up. */
  rate?: number;
}

/** Smallest accepted `speed`, `pitch` or `rate` (1/8: eight times slower or three octaves down). */
export const TIMESCALE_MIN = 0.125;
/** Largest accepted `speed`, `pitch` or `rate`. */
export const TIMESCALE_MAX = 8;

const FIELDS = ['speed', 'pitch', 'rate'] as const;
const MS_PER_SAMPLE = 1000 / SAMPLE_RATE;
/** Dry input kept while passing through, to prime the stretcher when it engages (100 ms). */
const PRIME_SAMPLES = 4800;
/** Crossfade from the dry signal to the stretcher's output when it engages (10 ms). */
const ENGAGE_FADE_SAMPLES = 480;

/**
 * Validates Lavalink-style timescale parameters and fills in the defaults (1).
 *
 * @param field the path to report in errors (default `timescale`, giving `timescale.speed`).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` naming the field (`timescale.pitch`) when the
 *   value is not an object or a factor is not a finite number in
 *   [{@link TIMESCALE_MIN}, {@link TIMESCALE_MAX}].
 */
export function normalizeTimescaleParams(params: unknown, field = 'timescale'): Required<TimescaleParams> {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new RxVoiceError('INVALID_ARGUMENT', `${field}: expected an object { speed?, pitch?, rate? }, got ${describe(params)}`);
  }
  const record = params as Record<string, unknown>;
  const out = { speed: 1, pitch: 1, rate: 1 };
  for (const key of FIELDS) {
    const v = record[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < TIMESCALE_MIN || v > TIMESCALE_MAX) {
      throw new RxVoiceError('INVALID_ARGUMENT', `${field}.${key} must be a number in [${TIMESCALE_MIN}, ${TIMESCALE_MAX}], got ${describe(v)}`);
    }
    out[key] = v;
  }
  return out;
}

// ─── operator ─────────────────────────────────────────────────────────────────────────

/**
 * Changes tempo and pitch of PCM frames (s16le, 48 kHz, interleaved stereo) — Lavalink's
 * `timescale` filter ("nightcore", "vaporwave", "slowed").
 *
 * Parameters ({@link TimescaleParams}; each a factor in [1/8, 8], default 1), with Lavalink's
 * meaning: `speed` changes the tempo and keeps the pitch; `pitch` changes the pitch and
 * keeps the tempo; `rate` changes both, like playing a record faster. They combine by
 * multiplication: the output lasts `input / (speed × rate)` and sounds
 * `pitch × rate` times higher. Nightcore is roughly `{ speed: 1.2, pitch: 1.2 }` or
 * `{ rate: 1.25 }`; vaporwave `{ speed: 0.8, pitch: 0.8 }`.
 *
 * **What it emits.** Frames of exactly 3840 bytes (20 ms), re-framed from the
 * time-stretcher's output, which comes in arbitrary amounts: `speed × rate` input frames
 * make one output frame on average, so it emits fewer frames than it receives when
 * speeding up and more when slowing down, synchronously as input arrives. The stretcher
 * holds ~0.1 s of input before its first output (its analysis window); when the source
 * completes that tail is flushed and the last frame padded with zeros. Every emitted frame
 * is a new `Buffer` tagged with its position on the source's timeline:
 * {@link frameMediaMs} (the input frames' own tags when they have one, else 20 ms per
 * input frame from 0). `timescale({})` / all-1 parameters return the source unchanged.
 *
 * **Live parameters.** Given an `Observable`, each emission is a complete parameter set
 * (missing fields are 1, as in Lavalink) and applies to the next input frame — within one
 * frame — without a click: the stretcher keeps its state and just changes its resampling
 * step and splice length. While the values are all 1 and have always been, frames pass
 * through untouched (no latency, no cost); on the first other value the stretcher
 * engages, primed with the last 100 ms of input so that it picks up where the dry signal
 * left off (10 ms crossfade), which delays the output once by its ~0.1 s window. Once
 * engaged it stays engaged: back at 1/1/1, pitch and tempo are exact but WSOLA still
 * splices every ~0.1 s, which can slightly smear sharp attacks — re-subscribe (or use a
 * plain value) to get the untouched signal back. Values arriving before
 * the first frame apply from the start; only the latest value between two frames counts.
 * The parameter observable is subscribed first; its completion leaves the last value in
 * force.
 *
 * **Completion and errors.** Completes after the source completes and the tail is out.
 * Errors with the source's or the parameter observable's error, or with
 * {@link RxVoiceError} `INVALID_ARGUMENT` naming the field (`timescale.speed`) when the
 * observable emits an invalid set.
 *
 * **Library.** SoundTouch's rate transposer + WSOLA time-stretch (as ported to TypeScript
 * by `soundtouch-ts`, LGPL-2.1), the algorithm Lavalink itself uses through lavadsp, so it
 * sounds like Lavalink; rxvoice adds an anti-alias low-pass before the transposer and a
 * fixed stage order (see `src/dsp/TimeStretcher.ts`). Chosen over Sonic, Rubber Band and
 * Signalsmith Stretch for CPU (≈ 40–85 µs per 20 ms frame), licence and music quality:
 * numbers in `bench/timescale.md`. Pure JavaScript: synchronous, nothing to initialise,
 * runs the same under ts-node, jest and worker threads.
 *
 * @param params factors as a value, or an observable of them.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` synchronously, for an invalid plain value.
 *
 * @example
 * ```ts
 * // Nightcore, then back to normal live:
 * const ts = new BehaviorSubject<TimescaleParams>({ speed: 1.2, pitch: 1.2 });
 * pcm$.pipe(timescale(ts), opusEncode());
 * ts.next({}); // speed, pitch and rate 1 from the next frame on
 * ```
 */
export function timescale(params: TimescaleParams | Observable<TimescaleParams>): MonoTypeOperatorFunction<PcmFrame> {
  if (!isObservable(params)) {
    const settings = normalizeTimescaleParams(params);
    if (isIdentity(settings)) return (source) => source;
    return (source) =>
      new Observable<PcmFrame>((subscriber) => {
        const runner = new TimescaleRunner(settings, (frame) => subscriber.next(frame));
        subscriber.add(() => runner.dispose());
        subscriber.add(source.subscribe(runnerObserver(runner, subscriber)));
      });
  }
  return (source) =>
    new Observable<PcmFrame>((subscriber) => {
      const runner = new TimescaleRunner({ speed: 1, pitch: 1, rate: 1 }, (frame) => subscriber.next(frame));
      subscriber.add(() => runner.dispose());
      subscriber.add(
        params.subscribe({
          next: (value) => {
            let settings: Required<TimescaleParams>;
            try {
              settings = normalizeTimescaleParams(value);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            runner.set(settings);
          },
          error: (err: unknown) => subscriber.error(err),
        }),
      );
      if (subscriber.closed) return;
      subscriber.add(source.subscribe(runnerObserver(runner, subscriber)));
    });
}

/**
 * Feeds `runner` from the source. The tail flushed at completion is emitted as if by the
 * source whose frames it holds (its demand gate, if any), so that a sink downstream still
 * sees paced audio and does not warn about frames without demand.
 */
function runnerObserver(runner: TimescaleRunner, subscriber: Subscriber<PcmFrame>): Partial<Observer<PcmFrame>> {
  let gate: DemandGate | null = null;
  return {
    next: (frame) => {
      gate = currentEmitter() ?? gate;
      runner.push(frame);
    },
    error: (err: unknown) => subscriber.error(err),
    complete: () => {
      emitAs(gate, () => runner.end());
      subscriber.complete();
    },
  };
}

function isIdentity(s: TimeStretchSettings): boolean {
  return s.speed === 1 && s.pitch === 1 && s.rate === 1;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** Where an input frame starts: in the stretcher's input (samples per channel) and on the media timeline. */
interface Checkpoint {
  readonly at: number;
  readonly ms: number;
}

/**
 * One subscription's state: pass-through until the settings leave 1/1/1, then a
 * {@link TimeStretcher} whose output is cut into 3840-byte frames tagged with media time.
 */
class TimescaleRunner {
  private settings: TimeStretchSettings;
  private kernel: TimeStretcher | null = null;
  private started = false;
  /** Media time of the next input frame if it carries no tag. */
  private nextMs = 0;
  /** Last dry samples (interleaved) while passing through: a ring, the newest just before `historyAt`. */
  private readonly history = new Int16Array(PRIME_SAMPLES * CHANNELS);
  private historyAt = 0;
  private historyFill = 0;
  /** Kernel input up to which output was already emitted dry (samples per channel). */
  private primed = 0;
  /** Dry continuation after the engage point, for the crossfade; null when none is due. */
  private dry: Int16Array | null = null;
  private dryFill = 0;
  private fadeDone = 0;
  private readonly checkpoints: Checkpoint[] = [];
  private frame = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
  private frameFill = 0;
  private frameMs: number | undefined;

  constructor(
    settings: TimeStretchSettings,
    private readonly emit: (frame: PcmFrame) => void,
  ) {
    this.settings = settings;
  }

  set(settings: TimeStretchSettings): void {
    this.settings = settings;
    if (this.kernel) this.kernel.set(settings);
    else if (this.started && !isIdentity(settings)) this.engage();
  }

  push(frame: PcmFrame): void {
    const samples = readInt16(frame);
    const pairs = samples.length >> 1;
    const tag = frameMediaMs(frame);
    // A jump on the source's timeline (a seek): what the stretcher holds is from before it.
    if (tag !== undefined && this.kernel && Math.abs(tag - this.nextMs) > 1) this.restart();
    const ms = tag ?? this.nextMs;
    this.nextMs = ms + pairs * MS_PER_SAMPLE;
    if (!this.started) {
      this.started = true;
      if (!isIdentity(this.settings)) this.kernel = new TimeStretcher(this.settings);
    }
    const kernel = this.kernel;
    if (!kernel) {
      this.remember(samples);
      setFrameMediaMs(frame, ms);
      this.emit(frame);
      return;
    }
    this.checkpoints.push({ at: kernel.inputSamplesWritten, ms });
    if (this.dry && this.dryFill < this.dry.length) {
      const take = Math.min(this.dry.length - this.dryFill, samples.length & ~1);
      this.dry.set(samples.subarray(0, take), this.dryFill);
      this.dryFill += take;
    }
    kernel.write(samples.length & 1 ? samples.subarray(0, samples.length - 1) : samples);
    this.drain();
  }

  end(): void {
    const kernel = this.kernel;
    if (!kernel) return;
    kernel.flush();
    this.drain();
    if (this.frameFill > 0) {
      this.frame.fill(0, this.frameFill * CHANNELS);
      this.frameFill = SAMPLES_PER_FRAME;
      this.emitFrame();
    }
  }

  dispose(): void {
    this.kernel?.dispose();
    this.kernel = null;
  }

  /** Drops everything held (input, output, partial frame) and starts a new stretcher with the current settings. */
  private restart(): void {
    this.kernel?.dispose();
    this.kernel = new TimeStretcher(this.settings);
    this.checkpoints.length = 0;
    this.frameFill = 0;
    this.primed = 0;
    this.dry = null;
    this.historyFill = 0;
  }

  /** Switches from pass-through to the stretcher mid-stream (see the operator's TSDoc). */
  private engage(): void {
    const kernel = new TimeStretcher({ speed: 1, pitch: 1, rate: 1 });
    this.kernel = kernel;
    const fill = this.historyFill;
    if (fill > 0) {
      const past = this.recentHistory(fill * CHANNELS);
      this.checkpoints.push({ at: 0, ms: this.nextMs - fill * MS_PER_SAMPLE });
      kernel.write(past);
      this.primed = fill;
      this.dry = new Int16Array(ENGAGE_FADE_SAMPLES * CHANNELS);
      this.dryFill = 0;
      this.fadeDone = 0;
    }
    kernel.set(this.settings);
  }

  /** Keeps the newest dry samples in the ring (no copy of what is already there: this runs on every frame of every idle timescale). */
  private remember(samples: Int16Array): void {
    const h = this.history;
    const n = samples.length & ~1;
    if (n >= h.length) {
      h.set(samples.subarray(n - h.length, n));
      this.historyAt = 0;
    } else {
      const first = Math.min(n, h.length - this.historyAt);
      h.set(samples.subarray(0, first), this.historyAt);
      if (first < n) h.set(samples.subarray(first, n), 0);
      this.historyAt = (this.historyAt + n) % h.length;
    }
    this.historyFill = Math.min(PRIME_SAMPLES, this.historyFill + (n >> 1));
  }

  /** The newest `count` remembered samples (interleaved), oldest first. */
  private recentHistory(count: number): Int16Array {
    const h = this.history;
    const start = (this.historyAt - count + h.length) % h.length;
    if (start + count <= h.length) return h.subarray(start, start + count);
    const out = new Int16Array(count);
    out.set(h.subarray(start));
    out.set(h.subarray(0, count - (h.length - start)), h.length - start);
    return out;
  }

  /** Moves the stretcher's output into frames; emits every full one. */
  private drain(): void {
    const kernel = this.kernel!;
    // After engaging, drop what the priming history produced: it was already played dry.
    while (this.primed > 0 && kernel.available > 0) {
      const behind = this.primed - kernel.inputPosition;
      if (behind <= 0) this.primed = 0;
      else kernel.skip(Math.ceil(behind));
    }
    if (this.primed > 0) return;
    while (kernel.available > 0) {
      if (this.frameFill === 0) this.frameMs = this.mediaMsAt(kernel.inputPosition);
      const offset = this.frameFill * CHANNELS;
      const got = kernel.readInto(this.frame, offset);
      if (this.dry) this.crossfade(offset, got);
      this.frameFill += got;
      if (this.frameFill === SAMPLES_PER_FRAME) this.emitFrame();
    }
  }

  /** Blends the first output after engaging from the dry continuation into the stretcher's output. */
  private crossfade(offset: number, count: number): void {
    const dry = this.dry!;
    const f = this.frame;
    const n = Math.min(count, ENGAGE_FADE_SAMPLES - this.fadeDone, this.dryFill >> 1);
    for (let j = 0; j < n; j++) {
      const k = this.fadeDone + j;
      const w = (k + 0.5) / ENGAGE_FADE_SAMPLES;
      for (let c = 0; c < CHANNELS; c++) {
        const i = offset + j * CHANNELS + c;
        f[i] = Math.round((1 - w) * dry[k * CHANNELS + c]! + w * f[i]!);
      }
    }
    this.fadeDone += n;
    if (this.fadeDone >= ENGAGE_FADE_SAMPLES || n < count) this.dry = null;
  }

  private emitFrame(): void {
    const out = Buffer.from(this.frame.buffer, this.frame.byteOffset, PCM_FRAME_BYTES);
    toLittleEndian(out);
    setFrameMediaMs(out, this.frameMs);
    this.frame = new Int16Array(SAMPLES_PER_FRAME * CHANNELS);
    this.frameFill = 0;
    this.emit(out);
  }

  /** Media time of stretcher input position `p` (samples per channel), from the input frames' checkpoints. */
  private mediaMsAt(p: number): number | undefined {
    const cps = this.checkpoints;
    while (cps.length > 1 && cps[1]!.at <= p) cps.shift();
    const cp = cps[0];
    if (!cp) return undefined;
    return cp.ms + (p - cp.at) * MS_PER_SAMPLE;
  }
}
