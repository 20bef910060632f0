import { checkChannels, checkSampleRate } from './internal/pcm';
import { RxVoiceError } from '../../errors';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { round: mathRound, sin: mathSin } = Math;

/** Options of {@link generateTone}. */
export interface GenerateToneOptions {
  /** Tone frequency, Hz. */
  frequency: number;
  /** Length, ms. The output has `round(durationMs × sampleRate / 1000)` frames. */
  durationMs: number;
  /** Peak amplitude as a fraction of full scale (1 → ±32767). Values above 1 clip. Default 0.5. */
  amplitude?: number;
  /** Samples per second per channel, Hz. Default 48000. */
  sampleRate?: number;
  /** Interleaved channels; every channel carries the same tone. Default 2. */
  channels?: number;
  /** Starting phase, radians. Default 0. */
  phase?: number;
}

/**
 * A sine tone as raw PCM: s16le, interleaved, `channels` identical channels.
 *
 * Sample `i` (per channel) is `round(amplitude × 32767 × sin(2π·frequency·i / sampleRate + phase))`,
 * clipped to the int16 range. At the defaults, 20 ms is 960 frames = 3840 bytes.
 *
 * @returns a `Buffer` of `frames × channels × 2` bytes.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` on a non-finite frequency/duration/amplitude/phase,
 *   a negative duration, or a bad sample rate or channel count.
 */
export function generateTone(options: GenerateToneOptions): Buffer {
  const { frequency, durationMs, amplitude = 0.5, sampleRate = 48000, channels = 2, phase = 0 } = options;
  checkSampleRate(sampleRate, 'generateTone');
  checkChannels(channels, 'generateTone');
  for (const [name, value] of [
    ['frequency', frequency],
    ['durationMs', durationMs],
    ['amplitude', amplitude],
    ['phase', phase],
  ] as const) {
    if (!Number.isFinite(value)) {
      throw new RxVoiceError('INVALID_ARGUMENT', `generateTone: ${name} must be a finite number, got ${value}`);
    }
  }
  if (durationMs < 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `generateTone: durationMs must be ≥ 0, got ${durationMs}`);
  }
  const frames = Math.round((durationMs * sampleRate) / 1000);
  const out = Buffer.alloc(frames * channels * 2);
  const step = (2 * Math.PI * frequency) / sampleRate;
  const scale = amplitude * 32767;
  let offset = 0;
  for (let i = 0; i < frames; i++) {
    let s = mathRound(scale * mathSin(step * i + phase));
    if (s > 32767) s = 32767;
    else if (s < -32768) s = -32768;
    for (let c = 0; c < channels; c++) {
      out.writeInt16LE(s, offset);
      offset += 2;
    }
  }
  return out;
}
