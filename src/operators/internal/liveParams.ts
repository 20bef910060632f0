import { defer, isObservable, map, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import type { PcmFrame } from '../../core/audioFormat';
import type { StereoKernel } from '../../dsp/StereoKernel';
import { frameMediaMs, setFrameMediaMs } from '../../core/mediaTime';
import { allocInt16Uninitialized, readInt16, toLittleEndian } from './pcm16';

/**
 * Internal machinery shared by every filter operator (`equalizer`, `tremolo`, …, `filters`):
 * live parameters (a value or an `Observable` of values) and click-free changes.
 *
 * - A {@link FilterSpec} says how to validate a filter's parameters, when they leave the
 *   audio unchanged and how to make a DSP kernel (`src/dsp/`) for them.
 * - A {@link FilterStage} runs one filter and changes its settings: settings that arrive
 *   before the first frame apply from the start; later ones take effect on the next frame,
 *   which is processed twice — by the running kernel and by a copy of it (same state) with
 *   the new settings — and crossfaded linearly from the old output to the new one across
 *   that frame. By the end of that frame the new settings are in force alone. Turning a
 *   filter on or off crossfades from or to the dry signal the same way; an unchanged filter
 *   costs nothing (identity settings are not run at all).
 * - A {@link StageChain} runs stages in order over one frame: s16le → float (±1) once, every
 *   stage, float → s16le once (rounded, saturated), the frame's media-time tag
 *   (`frameMediaMs`, set by `timescale`) carried over. When every stage is off the input
 *   frame itself is passed on.
 */

/** How to validate, test and build one filter. */
export interface FilterSpec<S> {
  /** The filter's name: Lavalink's key and the root of error paths (`equalizer[3].gain`). */
  readonly name: string;
  /**
   * Validates user input and fills in defaults.
   * @param field where the value sits, for error messages (default: the filter's name).
   * @throws {InvalidFilterError} naming the first offending field.
   */
  normalize(value: unknown, field?: string): S;
  /** Whether these settings leave the audio unchanged (the stage is then skipped). */
  isIdentity(settings: S): boolean;
  /** A kernel with fresh state. */
  create(settings: S): StereoKernel<S>;
}

/** What a {@link StageChain} needs of a stage. */
export interface Stage {
  /** Whether the stage processes the next frame (it is on, or a change is pending). */
  readonly active: boolean;
  /** Called at every frame: from then on, changes crossfade instead of applying from the start. */
  start(): void;
  process(samples: Float64Array, pairs: number, scratch: Float64Array): void;
}

/** One filter in a chain, with its live settings (see the module comment). */
export class FilterStage<S> implements Stage {
  private kernel: StereoKernel<S> | null = null;
  /** Settings in force; null before any were given (i.e. off). */
  private settings: S | null = null;
  private pending: { settings: S } | null = null;
  private started = false;

  constructor(readonly spec: FilterSpec<S>) {}

  get active(): boolean {
    return this.kernel !== null || this.pending !== null;
  }

  /** The settings last given (pending or in force), or null. */
  get current(): S | null {
    return this.pending ? this.pending.settings : this.settings;
  }

  /** New (validated) settings: from the start before the first frame, else over the next frame. */
  set(settings: S): void {
    if (!this.started) {
      this.settings = settings;
      this.kernel = this.spec.isIdentity(settings) ? null : this.spec.create(settings);
      return;
    }
    if (this.settings !== null ? sameSettings(settings, this.settings) : this.spec.isIdentity(settings)) {
      this.pending = null;
      return;
    }
    this.pending = { settings };
  }

  start(): void {
    this.started = true;
  }

  process(samples: Float64Array, pairs: number, scratch: Float64Array): void {
    if (this.pending === null) {
      this.kernel?.process(samples, pairs);
      return;
    }
    const { settings } = this.pending;
    this.pending = null;
    this.settings = settings;
    const previous = this.kernel;
    let next: StereoKernel<S> | null = null;
    if (!this.spec.isIdentity(settings)) {
      if (previous) {
        next = previous.clone();
        next.configure(settings);
      } else {
        next = this.spec.create(settings);
      }
    }
    this.kernel = next;
    if (previous === null && next === null) return;
    const n = pairs * 2;
    for (let i = 0; i < n; i++) scratch[i] = samples[i];
    previous?.process(samples, pairs);
    next?.process(scratch, pairs);
    // Linear crossfade old → new across the frame (the last pair is all new).
    const step = 1 / pairs;
    for (let k = 0, i = 0; k < pairs; k++, i += 2) {
      const w = (k + 1) * step;
      samples[i] += (scratch[i] - samples[i]) * w;
      samples[i + 1] += (scratch[i + 1] - samples[i + 1]) * w;
    }
  }
}

const TO_FLOAT = 1 / 32768;

/** Runs stages in order over PCM frames, with float buffers reused from frame to frame. */
export class StageChain {
  private samples = new Float64Array(1920);
  private scratch = new Float64Array(1920);

  constructor(private readonly stages: readonly Stage[]) {}

  /** The frame through every active stage: a new frame, or `frame` itself when none is active. */
  run(frame: PcmFrame): PcmFrame {
    let active = false;
    for (const stage of this.stages) {
      stage.start();
      if (stage.active) active = true;
    }
    if (!active) return frame;
    const input = readInt16(frame);
    const count = input.length;
    const pairs = count >> 1;
    const n = pairs * 2;
    if (this.samples.length < n) {
      this.samples = new Float64Array(n);
      this.scratch = new Float64Array(n);
    }
    const { samples, scratch } = this;
    for (let i = 0; i < n; i++) samples[i] = input[i] * TO_FLOAT;
    for (const stage of this.stages) if (stage.active) stage.process(samples, pairs, scratch);
    const { buffer, samples: out } = allocInt16Uninitialized(frame.length);
    for (let i = 0; i < n; i++) {
      // Rounded (half up, as Math.round) and saturated: offset to positive, clamp, truncate.
      let v = samples[i] * 32768 + 32768.5;
      v = v > 65535 ? 65535 : v >= 0 ? v : 0;
      out[i] = (v | 0) - 32768;
    }
    if (count > n) out[n] = input[n];
    if (frame.length & 1) buffer[frame.length - 1] = frame[frame.length - 1];
    // Keep the frame's position on the source's timeline (set by `timescale`) for the sink.
    setFrameMediaMs(buffer, frameMediaMs(frame));
    return toLittleEndian(buffer);
  }
}

/**
 * The operator of a single filter: `params` is a value (validated now: throws) or an
 * `Observable` of values (each validated as it arrives: an invalid one errors the stream).
 * The parameter observable is subscribed first, then the source; when it completes the
 * last settings stay. Identity settings given as a plain value return the source as is.
 */
export function liveFilter<S>(spec: FilterSpec<S>, params: unknown): MonoTypeOperatorFunction<PcmFrame> {
  if (!isObservable(params)) {
    const settings = spec.normalize(params);
    if (spec.isIdentity(settings)) return (source) => source;
    return (source) =>
      defer(() => {
        const stage = new FilterStage(spec);
        stage.set(settings);
        const chain = new StageChain([stage]);
        return source.pipe(map((frame) => chain.run(frame)));
      });
  }
  return (source) =>
    new Observable<PcmFrame>((subscriber) => {
      const stage = new FilterStage(spec);
      const chain = new StageChain([stage]);
      subscriber.add(
        params.subscribe({
          next: (value) => {
            let settings: S;
            try {
              settings = spec.normalize(value);
            } catch (err) {
              subscriber.error(err);
              return;
            }
            stage.set(settings);
          },
          error: (err: unknown) => subscriber.error(err),
        }),
      );
      if (subscriber.closed) return;
      subscriber.add(source.pipe(map((frame) => chain.run(frame))).subscribe(subscriber));
    });
}

/** Deep equality of settings (numbers, arrays, plain objects). */
export function sameSettings(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!sameSettings((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
