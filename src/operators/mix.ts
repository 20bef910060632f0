import { merge, Observable, Subject, type MonoTypeOperatorFunction } from 'rxjs';
import { PCM_FRAME_BYTES, type PcmFrame } from '../core/audioFormat';
import { claimEmitter, DemandGate, withDemand, type FrameDemand } from '../core/FrameDemand';
import { RxVoiceError } from '../errors';
import { allocInt16, readInt16, toLittleEndian } from './internal/pcm16';
import { describeValue } from './internal/describeValue';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { round, tanh } = Math;

/** Most frames `mix` holds for one input before it stops waiting for slower inputs. */
export const MIX_MAX_QUEUED_FRAMES = 50;
/** With a consumer that says how much it holds: stop waiting only once it holds less than this, ms. */
const STARVING_MS = 60;

/** Soft-clip knee: sums up to 0.8 of full scale pass unchanged. */
const KNEE = round(0.8 * 32767);
/** Room between the knee and full scale, which the tanh curve approaches but never reaches. */
const HEADROOM = 32767 - KNEE;

/** Samples (both channels) in one frame. */
const FRAME_SAMPLES = PCM_FRAME_BYTES / 2;

interface Input {
  readonly queue: PcmFrame[];
  done: boolean;
  /** What this input's sources see: open while the mix's consumer wants audio and this queue has room. */
  readonly demand: FrameDemand;
}

/**
 * Mixes several PCM streams (20 ms s16le 48 kHz stereo frames) into one, frame by frame.
 *
 * Output frame *n* is the sum of frame *n* of every input, passed through a soft clipper:
 * sums within ±0.8 of full scale are unchanged; above that a tanh knee bends them
 * smoothly towards full scale, so the result never exceeds the int16 range and never
 * clips hard or wraps. Each output is a new 3840-byte `Buffer`; inputs are not modified.
 * A shorter input frame counts as zero-padded.
 *
 * Timing: a frame is emitted as soon as every input that has not completed has a frame
 * queued, so the output runs at the pace of the slowest input. A completed input
 * contributes silence (after its queued frames), so the output lasts as long as the
 * longest input. Completes when every input has completed and all queued frames are
 * emitted (`mix()` with no inputs completes at once). Errors as soon as any input errors
 * (the others are unsubscribed), or with {@link RxVoiceError} `BAD_FRAME` when an input
 * emits a frame longer than 3840 bytes.
 *
 * Bounded memory: at most {@link MIX_MAX_QUEUED_FRAMES} (50 frames = 1 s) are held per
 * input once all inputs are subscribed. When an input's queue is full, the mix stops
 * waiting for the inputs that have nothing queued — with a sink behind it, only as the sink
 * runs out of audio, so in real time — and emits with silence in their place (they
 * underrun) until that queue is below the bound again. Their frames that arrive
 * later are mixed in from then on — delayed, never dropped. Frames an input emits
 * synchronously while the inputs are being subscribed are all queued (so synchronous
 * inputs, like `from(frames)`, line up exactly).
 *
 * Backpressure: the mix is a demand-aware source itself (a {@link DemandGate}); each input
 * gets a demand that is open while the mix's consumer wants audio and that input's queue
 * has room, found by its sources at subscribe or at their first frame (so inputs that
 * subscribe their sources later, like a `concatMap` over a queue, are paced too). With
 * demand-aware sources the queues stay within the sink's lead; seek requests reach every
 * input.
 *
 * @param sources the PCM streams to mix.
 * @returns an observable of mixed PCM frames.
 *
 * @example
 * ```ts
 * mix(musicFile$.pipe(volume(0.3)), voice$).pipe(opusEncode())
 * ```
 */
export function mix(...sources: Observable<PcmFrame>[]): Observable<PcmFrame> {
  return new Observable<PcmFrame>((subscriber) => {
    const gate = new DemandGate(subscriber);
    const drained = new Subject<void>();
    subscriber.add(() => drained.complete());
    const inputs: Input[] = sources.map(() => {
      const input: Input = {
        queue: [],
        done: false,
        demand: {
          get open() {
            return gate.open && input.queue.length < MIX_MAX_QUEUED_FRAMES;
          },
          changes$: merge(gate.changes$, drained),
          seek$: gate.seek$,
        },
      };
      return input;
    });
    const starving = (): boolean => {
      const held = gate.bufferedMs;
      return held === undefined || held < STARVING_MS;
    };
    subscriber.add(gate.changes$.subscribe(() => drain()));
    // A seek: what the inputs queued from the old position goes (subscribed before the inputs
    // see the seek, so their first frames from the new position are kept).
    subscriber.add(gate.seek$.subscribe(() => inputs.forEach((input) => (input.queue.length = 0))));
    let subscribing = true;
    let draining = false;
    const sum = new Int32Array(FRAME_SAMPLES);

    const drain = (): void => {
      // Not re-entrant: a downstream that pushes into an input while we emit just queues.
      if (subscribing || draining) return;
      draining = true;
      let emitted = false;
      try {
        while (!subscriber.closed) {
          let queued = false;
          let waiting = false;
          let full = false;
          for (const input of inputs) {
            const n = input.queue.length;
            if (n > 0) queued = true;
            if (n >= MIX_MAX_QUEUED_FRAMES) full = true;
            if (n === 0 && !input.done) waiting = true;
          }
          if (!queued) {
            if (!waiting) subscriber.complete();
            return;
          }
          // Stop waiting for an input with nothing queued only when another input's queue is
          // full and the consumer is running out (so a slow start is waited for, a stall is not).
          if (waiting && !(full && starving())) return;
          sum.fill(0);
          for (const input of inputs) {
            const frame = input.queue.shift();
            if (frame) addInto(sum, frame);
          }
          gate.emit(subscriber, softClip(sum));
          emitted = true;
        }
      } finally {
        draining = false;
        if (emitted && !subscriber.closed) drained.next();
      }
    };

    sources.forEach((source, i) => {
      if (subscriber.closed) return;
      const input = inputs[i];
      subscriber.add(
        withDemand(input.demand, () =>
          source.subscribe({
            next: (frame) => {
              claimEmitter(input.demand);
              if (!Buffer.isBuffer(frame)) {
                subscriber.error(new RxVoiceError('BAD_FRAME', `mix: expected a PCM frame (Buffer) from input ${i}, got ${describeValue(frame)}`));
                return;
              }
              if (frame.length > PCM_FRAME_BYTES) {
                subscriber.error(new RxVoiceError('BAD_FRAME', `mix: a PCM frame is at most ${PCM_FRAME_BYTES} bytes, got ${frame.length} from input ${i}`));
                return;
              }
              input.queue.push(frame);
              drain();
            },
            error: (err: unknown) => subscriber.error(err),
            complete: () => {
              input.done = true;
              drain();
            },
          }),
        ),
      );
    });
    subscribing = false;
    drain();
  });
}

/**
 * Operator form of {@link mix}: mixes the source with `others`, frame by frame.
 *
 * @example
 * ```ts
 * voice$.pipe(mixWith(backgroundMusic$.pipe(volume(0.2))), opusEncode())
 * ```
 */
export function mixWith(...others: Observable<PcmFrame>[]): MonoTypeOperatorFunction<PcmFrame> {
  return (source) => mix(source, ...others);
}

function addInto(sum: Int32Array, frame: PcmFrame): void {
  const samples = readInt16(frame);
  const n = samples.length;
  for (let i = 0; i < n; i++) sum[i] += samples[i];
}

/** The sum as s16le with the soft knee applied. */
function softClip(sum: Int32Array): PcmFrame {
  const { buffer, samples } = allocInt16(PCM_FRAME_BYTES);
  for (let i = 0; i < FRAME_SAMPLES; i++) {
    const s = sum[i];
    if (s > KNEE) samples[i] = round(KNEE + HEADROOM * tanh((s - KNEE) / HEADROOM));
    else if (s < -KNEE) samples[i] = -round(KNEE + HEADROOM * tanh((-s - KNEE) / HEADROOM));
    else samples[i] = s;
  }
  return toLittleEndian(buffer);
}
