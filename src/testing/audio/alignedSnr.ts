import type { PcmFormat } from './PcmFormat';
import { RxVoiceError } from '../../errors';
import { checkSampleRate } from './internal/pcm';
import { fft, nextPow2 } from './internal/fft';
import { toMono } from './toMono';

/** Options of {@link alignedSnr}. */
export interface AlignedSnrOptions extends PcmFormat {
  /** Largest delay searched in either direction, ms. Default 500. */
  maxLagMs?: number;
}

/** Result of {@link alignedSnr}. */
export interface AlignedSnrResult {
  /**
   * `10·log10(signal power / error power)` over the overlap, dB, where signal =
   * `gain × reference` and error = `received − gain × reference`. `Infinity` for an exact
   * (scaled) copy; `-Infinity` when the overlapping reference is silent or empty.
   */
  snrDb: number;
  /**
   * Delay of `received` relative to `reference`, in frames (samples per channel):
   * `received[n + lagSamples] ≈ gain × reference[n]`. Positive when `received` is late.
   */
  lagSamples: number;
  /** Least-squares gain fitted over the overlap (≈ 1 for a faithful copy at the same level). */
  gain: number;
}

/**
 * Compares a received (e.g. Opus round-tripped, network-delayed) signal with the
 * reference it should contain, independent of delay and level.
 *
 * Both inputs are mixed to mono. The lag in [−maxLag, +maxLag] maximising the (signed,
 * unnormalised) cross-correlation `Σ received[n + lag] · reference[n]` is found with one
 * FFT of both signals (packed as real and imaginary parts) and one inverse FFT; a
 * polarity-inverted copy is therefore not matched. Over the overlapping part at that lag
 * the least-squares gain `g = Σ r·x / Σ x²` is fitted and the SNR of `received` against
 * `g × reference` is reported. Samples outside the overlap are ignored.
 *
 * Cost: two FFTs of `2^⌈log2(max(len) + maxLag)⌉` points and 16 bytes of memory per point
 * (≈ 8 MB for 10 s at 48 kHz); meant for clips of seconds to a few minutes.
 *
 * A steady tone is periodic, so lags one period apart correlate almost equally; the lag is
 * only well defined when `received` holds the whole reference (onset and end), e.g. with
 * leading/trailing silence. The SNR is meaningful either way.
 *
 * Opus-coded speech-band tones typically score > 15 dB; an unrelated signal scores
 * around 0 dB or (much) lower.
 *
 * @param received PCM under test, s16le interleaved.
 * @param reference the expected PCM, same format.
 * @param options `sampleRate` (Hz, default 48000; converts `maxLagMs`), `channels`
 *   (default 2), `maxLagMs` (default 500).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` on a bad sample rate, channel count or `maxLagMs`.
 */
export function alignedSnr(received: Uint8Array, reference: Uint8Array, options: AlignedSnrOptions = {}): AlignedSnrResult {
  const { sampleRate = 48000, channels = 2, maxLagMs = 500 } = options;
  checkSampleRate(sampleRate, 'alignedSnr');
  if (!(maxLagMs >= 0) || !Number.isFinite(maxLagMs)) {
    throw new RxVoiceError('INVALID_ARGUMENT', `alignedSnr: maxLagMs must be a finite number ≥ 0, got ${maxLagMs}`);
  }
  const rec = toMono(received, channels);
  const ref = toMono(reference, channels);
  if (rec.length === 0 || ref.length === 0) return { snrDb: -Infinity, lagSamples: 0, gain: 0 };

  const maxLag = Math.round((maxLagMs * sampleRate) / 1000);
  const lagLo = Math.max(-maxLag, -(ref.length - 1));
  const lagHi = Math.min(maxLag, rec.length - 1);

  // Cross-correlation c[l] = Σ rec[n + l] · ref[n] via FFT: C = REC · conj(REF), with
  // both real spectra taken from one complex FFT of z = rec + i·ref. A circular length
  // of max(len) + maxLag keeps every searched lag free of wrap-around.
  const size = nextPow2(Math.max(rec.length, ref.length) + Math.max(-lagLo, lagHi) + 1);
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  re.set(rec);
  im.set(ref);
  fft(re, im);
  // In place, bin pairs (k, size − k) together: C[size − k] = conj C[k] for real inputs.
  for (let k = 0; k <= size / 2; k++) {
    const m = k === 0 ? 0 : size - k;
    const ar = (re[k] + re[m]) / 2; // REC[k]
    const ai = (im[k] - im[m]) / 2;
    const br = (im[k] + im[m]) / 2; // REF[k]
    const bi = -(re[k] - re[m]) / 2;
    const cr = ar * br + ai * bi; // REC[k] · conj(REF[k])
    const ci = ai * br - ar * bi;
    re[k] = cr;
    im[k] = ci;
    re[m] = cr;
    im[m] = -ci;
  }
  fft(re, im, true);
  const corr = re;

  let lag = 0;
  let best = -Infinity;
  for (let l = lagLo; l <= lagHi; l++) {
    const v = corr[l < 0 ? size + l : l];
    if (v > best || (v === best && Math.abs(l) < Math.abs(lag))) {
      best = v;
      lag = l;
    }
  }

  // Exact statistics over the overlap at that lag.
  const n0 = Math.max(0, -lag);
  const n1 = Math.min(ref.length, rec.length - lag);
  let sxx = 0;
  let sxr = 0;
  for (let n = n0; n < n1; n++) {
    const x = ref[n];
    sxx += x * x;
    sxr += x * rec[n + lag];
  }
  if (!(sxx > 0)) return { snrDb: -Infinity, lagSamples: lag, gain: 0 };
  const gain = sxr / sxx;
  let err = 0;
  for (let n = n0; n < n1; n++) {
    const e = rec[n + lag] - gain * ref[n];
    err += e * e;
  }
  const signal = gain * gain * sxx;
  const snrDb = err === 0 ? (signal > 0 ? Infinity : -Infinity) : 10 * Math.log10(signal / err);
  return { snrDb, lagSamples: lag, gain };
}
