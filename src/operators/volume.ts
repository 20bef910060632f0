import { isObservable, map, Observable, type MonoTypeOperatorFunction } from 'rxjs';
import { CHANNELS, type PcmFrame } from '../core/audioFormat';
import { RxVoiceError } from '../errors';
import { allocInt16Uninitialized, readInt16, toLittleEndian } from './internal/pcm16';
import { frameMediaMs, setFrameMediaMs } from '../core/mediaTime';
import { describeValue } from './internal/describeValue';
import { guardedNext } from './internal/guardedNext';

/**
 * Scales PCM frames (s16le, interleaved stereo) by a linear gain — a fixed number or a
 * live `Observable<number>`.
 *
 * Emits one frame per input frame, synchronously, of the same length:
 * - samples are multiplied by the gain, rounded, and **saturated** to the int16 range
 *   (−32768‥32767): loud input clips flat, it never wraps around to the opposite sign;
 * - at gain 1 (and no change in progress) the input frame itself is emitted — no copy;
 *   `volume(1)` returns the source unchanged. Any other gain emits a new `Buffer`; input
 *   frames are never modified.
 * - with an `Observable` gain, a new value is reached over the next frame: the gain moves
 *   linearly from the previous value to the new one across that frame's samples (both
 *   channels alike), which avoids the "zipper" clicks of an abrupt step. Values that
 *   arrive before the first frame apply from the start; until the first value the gain
 *   is 1. Only the latest value counts when several arrive between two frames.
 *
 * The gain observable is subscribed first, then the source; when it completes the last
 * value stays in force. Completes when the source completes. Errors with the source's or
 * the gain observable's error, or with {@link RxVoiceError} `INVALID_ARGUMENT` when the
 * gain observable emits a negative or non-finite value.
 *
 * @param gain linear factor ≥ 0 (1 = unchanged, 0.5 ≈ −6 dB, 2 ≈ +6 dB), or an
 *   observable of such factors.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` synchronously, for a negative or non-finite number.
 *
 * @example
 * ```ts
 * const level = new BehaviorSubject(0.8);
 * pcm$.pipe(volume(level), opusEncode());
 * level.next(0.2); // ducks smoothly over the next 20 ms
 * ```
 */
export function volume(gain: number | Observable<number>): MonoTypeOperatorFunction<PcmFrame> {
  if (!isObservable(gain)) {
    checkGain(gain);
    if (gain === 1) return (source) => source;
    return map((frame) => applyGain(frame, gain, gain));
  }
  return (source) =>
    new Observable<PcmFrame>((subscriber) => {
      let current = 1;
      let target = 1;
      let started = false;
      const gainSubscription = gain.subscribe({
        next: (value) => {
          if (!isValidGain(value)) {
            subscriber.error(new RxVoiceError('INVALID_ARGUMENT', `volume: gain must be a finite number ≥ 0, got ${String(value)}`));
            return;
          }
          target = value;
          if (!started) current = value;
        },
        error: (err: unknown) => subscriber.error(err),
      });
      subscriber.add(gainSubscription);
      if (subscriber.closed) return;
      subscriber.add(
        source.subscribe({
          next: guardedNext(subscriber, 'volume', (frame: PcmFrame) => {
            started = true;
            const from = current;
            current = target;
            subscriber.next(applyGain(frame, from, target));
          }),
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );
    });
}

function isValidGain(gain: unknown): gain is number {
  return typeof gain === 'number' && Number.isFinite(gain) && gain >= 0;
}

function checkGain(gain: number): void {
  if (!isValidGain(gain)) throw new RxVoiceError('INVALID_ARGUMENT', `volume: gain must be a finite number ≥ 0, got ${String(gain)}`);
}

/** `frame` with the gain ramping linearly from `from` to `to` across its sample frames. */
function applyGain(frame: PcmFrame, from: number, to: number): PcmFrame {
  if (!Buffer.isBuffer(frame)) throw new RxVoiceError('BAD_FRAME', `volume: expected a PCM frame (Buffer), got ${describeValue(frame)}`);
  if (from === to) {
    if (to === 1) return frame;
    if (to === 0) {
      const silent = Buffer.alloc(frame.length);
      setFrameMediaMs(silent, frameMediaMs(frame));
      return silent;
    }
  }
  const input = readInt16(frame);
  const { buffer, samples } = allocInt16Uninitialized(frame.length);
  const n = input.length;
  if (from === to) {
    for (let i = 0; i < n; i++) {
      // round(x) = floor(x + 0.5), saturated: offset to positive, clamp, truncate.
      let v = input[i] * to + 32768.5;
      v = v > 65535 ? 65535 : v < 0 ? 0 : v;
      samples[i] = (v | 0) - 32768;
    }
  } else {
    const pairs = Math.ceil(n / CHANNELS);
    const step = (to - from) / pairs;
    for (let i = 0; i < n; i++) {
      const g = from + step * ((i >> 1) + 1);
      let v = input[i] * g + 32768.5;
      v = v > 65535 ? 65535 : v < 0 ? 0 : v;
      samples[i] = (v | 0) - 32768;
    }
  }
  if (frame.length & 1) buffer[frame.length - 1] = frame[frame.length - 1];
  // Keep the frame's position on the source's timeline (set by `timescale`) for the sink.
  setFrameMediaMs(buffer, frameMediaMs(frame));
  return toLittleEndian(buffer);
}
