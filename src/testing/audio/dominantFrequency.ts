import type { PcmFormat } from './PcmFormat';
import { RxVoiceError } from '../../errors';
import { checkSampleRate } from './internal/pcm';
import { goertzelPower, hannWindowed, nextPow2, realFft } from './internal/fft';
import { toMono } from './toMono';

/** Options of {@link dominantFrequency}. */
export interface DominantFrequencyOptions extends PcmFormat {
  /** Lowest frequency considered, Hz. Default 20. */
  minHz?: number;
  /** Highest frequency considered, Hz (capped at Nyquist). Default 20000. */
  maxHz?: number;
}

/** Golden-section iterations: shrink the ±1 coarse-bin bracket by 0.618^n. */
const REFINE_ITERATIONS = 24;

/**
 * The frequency of the strongest spectral peak in PCM, Hz.
 *
 * Method: mix to mono, remove the mean, apply a Hann window, take a zero-padded radix-2
 * FFT (length ≥ 2 × frames up to 2^19 samples) and pick the strongest bin in
 * [`minHz`, `maxHz`]; then refine by a golden-section search of the windowed DTFT
 * power (Goertzel, evaluated at arbitrary frequency) within ±1 FFT bin of it. For a
 * clean tone the error is far below 0.01 Hz even on 0.5 s clips, and Opus-coded tones
 * stay well within ±2 Hz (typically < 0.01 Hz). 10 s of 48 kHz stereo takes ≈ 60 ms.
 *
 * @param pcm raw PCM, s16le interleaved; any length; a trailing partial frame is ignored.
 * @param options `sampleRate` (Hz, default 48000), `channels` (default 2), `minHz`
 *   (default 20), `maxHz` (default 20000).
 * @returns the peak frequency in Hz, or 0 for silence, DC-only or fewer than 2 frames.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` on a bad sample rate, channel count or range.
 */
export function dominantFrequency(pcm: Uint8Array, options: DominantFrequencyOptions = {}): number {
  const { sampleRate = 48000, channels = 2, minHz = 20, maxHz = 20000 } = options;
  checkSampleRate(sampleRate, 'dominantFrequency');
  if (!(minHz >= 0) || !(maxHz >= minHz)) {
    throw new RxVoiceError('INVALID_ARGUMENT', `dominantFrequency: need 0 ≤ minHz ≤ maxHz, got ${minHz}..${maxHz}`);
  }
  const mono = toMono(pcm, channels);
  const n = mono.length;
  if (n < 2) return 0;
  const { signal } = hannWindowed(mono, true);
  let energy = 0;
  for (let i = 0; i < n; i++) energy += signal[i] * signal[i];
  if (energy === 0) return 0;

  const nyquist = sampleRate / 2;
  const lo = Math.min(minHz, nyquist);
  const hi = Math.min(maxHz, nyquist);

  // Coarse: strongest bin of the zero-padded FFT.
  const size = n <= 1 << 18 ? nextPow2(2 * n) : nextPow2(n);
  const { re, im } = realFft(signal, size);
  const binHz = sampleRate / size;
  let kMin = Math.ceil(lo / binHz);
  let kMax = Math.floor(hi / binHz);
  if (kMin > kMax) kMin = kMax = Math.min(size / 2, Math.max(0, Math.round(lo / binHz)));
  let best = kMin;
  let bestPower = -1;
  for (let k = kMin; k <= kMax; k++) {
    const p = re[k] * re[k] + im[k] * im[k];
    if (p > bestPower) {
      bestPower = p;
      best = k;
    }
  }
  if (!(bestPower > 0)) return 0;

  // Fine: golden-section maximisation of the windowed DTFT power around that bin. The
  // Hann main lobe is ±2 natural bins wide and a padded bin is ≤ 1 natural bin, so the
  // bracket holds a single maximum.
  const omegaPerHz = (2 * Math.PI) / sampleRate;
  const power = (f: number): number => goertzelPower(signal, f * omegaPerHz);
  let a = Math.max(lo, (best - 1) * binHz);
  let b = Math.min(hi, (best + 1) * binHz);
  if (!(b > a)) return best * binHz;
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  let pc = power(c);
  let pd = power(d);
  for (let i = 0; i < REFINE_ITERATIONS; i++) {
    if (pc >= pd) {
      b = d;
      d = c;
      pd = pc;
      c = b - g * (b - a);
      pc = power(c);
    } else {
      a = c;
      c = d;
      pc = pd;
      d = a + g * (b - a);
      pd = power(d);
    }
  }
  return (a + b) / 2;
}
