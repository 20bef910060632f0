import { Observable } from 'rxjs';
import { PCM_FRAME_BYTES, SAMPLE_RATE, SAMPLES_PER_FRAME, type PcmFrame } from '../core/audioFormat';
import { DemandGate } from '../core/FrameDemand';
import { RxVoiceError } from '../errors';

// Bound once: a global `Math` lookup per sample is much slower inside jest's vm sandbox.
const { round: mathRound, sin: mathSin, PI } = Math;

/** Options of {@link toneSource}. */
export interface ToneSourceOptions {
  /** Tone frequency, Hz (0 gives silence). */
  frequency: number;
  /** Length, ms; `Infinity` for an endless tone. */
  durationMs: number;
  /** Peak amplitude as a fraction of full scale, 0–1 (1 → ±32767). Default 0.5. */
  amplitude?: number;
}

/**
 * A sine tone as PCM frames: 3840-byte s16le 48 kHz stereo `Buffer`s, both channels
 * equal, phase-continuous across frames (sample `n` is
 * `round(amplitude × 32767 × sin(2π·frequency·n / 48000))`). `round(durationMs × 48)`
 * samples per channel in `ceil(… / 960)` frames; the last frame is zero-padded.
 *
 * **Demand.** It emits synchronously while the demand allows (at most `leadMs` ahead of
 * the consumer) and continues on `changes$`. Without a demand it emits everything
 * synchronously on subscribe — so an endless tone needs a demand or a `take(n)`.
 * **Seek.** `demand.seek$` (ms) continues from that position with the phase it has there.
 *
 * Completes after the last frame (never for `Infinity`). Never errors.
 *
 * @param options `frequency` (Hz), `durationMs` (ms, may be `Infinity`), `amplitude` (0–1, default 0.5).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` (at call time) on a negative or non-finite
 *   frequency, a negative or NaN duration, or an amplitude outside 0–1.
 *
 * @example
 * // One second of A4: 50 frames.
 * toneSource({ frequency: 440, durationMs: 1000 }).subscribe((frame) => speaker.write(frame));
 */
export function toneSource(options: ToneSourceOptions): Observable<PcmFrame> {
  const { frequency, durationMs, amplitude = 0.5 } = options;
  if (!Number.isFinite(frequency) || frequency < 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `toneSource: frequency must be a finite number ≥ 0 (Hz), got ${frequency}`);
  }
  if (Number.isNaN(durationMs) || durationMs < 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `toneSource: durationMs must be ≥ 0 or Infinity, got ${durationMs}`);
  }
  if (!Number.isFinite(amplitude) || amplitude < 0 || amplitude > 1) {
    throw new RxVoiceError('INVALID_ARGUMENT', `toneSource: amplitude must be in 0..1, got ${amplitude}`);
  }
  const samplesPerMs = SAMPLE_RATE / 1000;
  const totalSamples = durationMs === Infinity ? Infinity : mathRound(durationMs * samplesPerMs);
  const cyclesPerSample = frequency / SAMPLE_RATE;
  const scale = amplitude * 32767;

  return new Observable<PcmFrame>((subscriber) => {
    const gate = new DemandGate(subscriber);
    /** Next sample index (per channel). */
    let position = 0;
    /** Phase at `position`, in cycles, kept in [0, 1) so an endless tone stays exact. */
    let phase = 0;
    let pumping = false;

    const frame = (): PcmFrame => {
      const out = Buffer.alloc(PCM_FRAME_BYTES);
      const count = Math.min(SAMPLES_PER_FRAME, totalSamples - position);
      for (let i = 0; i < count; i++) {
        const s = mathRound(scale * mathSin(2 * PI * (phase + i * cyclesPerSample)));
        out.writeInt16LE(s, 4 * i);
        out.writeInt16LE(s, 4 * i + 2);
      }
      position += count;
      phase = (phase + count * cyclesPerSample) % 1;
      return out;
    };

    const pump = (): void => {
      if (pumping) return; // re-entered from a synchronous consume(): the running loop re-checks the gate
      pumping = true;
      try {
        while (!subscriber.closed && position < totalSamples && gate.open) {
          gate.emit(subscriber, frame());
        }
      } finally {
        pumping = false;
      }
      if (!subscriber.closed && position >= totalSamples) subscriber.complete();
    };

    const changes = gate.changes$.subscribe(pump);
    const seeks = gate.seek$.subscribe((ms) => {
      position = Math.max(0, mathRound((Number.isFinite(ms) ? ms : 0) * samplesPerMs));
      phase = (position * cyclesPerSample) % 1;
      pump();
    });
    pump();
    return () => {
      changes.unsubscribe();
      seeks.unsubscribe();
    };
  });
}
