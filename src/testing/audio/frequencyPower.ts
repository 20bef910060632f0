import type { PcmFormat } from './PcmFormat';
import { checkSampleRate } from './internal/pcm';
import { goertzelPower, hannWindowed } from './internal/fft';
import { toMono } from './toMono';

/**
 * Power of the sinusoidal component at one frequency, for checking that a tone is (or is
 * not) present in PCM — e.g. that a 440 + 660 Hz mix shows both, and nothing at 550 Hz.
 *
 * The PCM is mixed to mono, Hann-windowed and evaluated with the Goertzel algorithm at
 * exactly `hz` (no bin rounding). The result is scaled to mean-square full-scale units:
 * a sine of peak amplitude `a` (fraction of full scale) at `hz` gives ≈ `a² / 2`
 * (0.5 → 0.125); frequencies more than a few `sampleRate / frames` away from any tone give
 * values many orders of magnitude smaller. Empty input gives 0.
 *
 * @param pcm raw PCM, s16le interleaved; a trailing partial frame is ignored.
 * @param hz frequency to probe, Hz.
 * @param format `sampleRate` (Hz, default 48000) and `channels` (default 2).
 * @returns a non-negative power (relative, full scale² units).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` on a bad sample rate or channel count.
 */
export function frequencyPower(pcm: Uint8Array, hz: number, format: PcmFormat = {}): number {
  const { sampleRate = 48000, channels = 2 } = format;
  checkSampleRate(sampleRate, 'frequencyPower');
  const mono = toMono(pcm, channels);
  if (mono.length === 0) return 0;
  const { signal, windowSum } = hannWindowed(mono, false);
  if (windowSum === 0) return 0;
  const power = goertzelPower(signal, (2 * Math.PI * hz) / sampleRate);
  // |X| ≈ a · Σw / 2 for a sine of amplitude a, whose mean-square power is a² / 2.
  return (2 * Math.max(0, power)) / (windowSum * windowSum);
}
