import type { PcmFormat } from './PcmFormat';
import { checkChannels, checkSampleRate, frameCount } from './internal/pcm';

/**
 * Duration of s16le interleaved PCM: whole frames ÷ sample rate, in milliseconds.
 * At the defaults (48 kHz stereo) 3840 bytes → 20 ms.
 *
 * @param pcm raw PCM, s16le interleaved; a trailing partial frame is ignored.
 * @param format `sampleRate` (Hz, default 48000) and `channels` (default 2).
 * @returns milliseconds (not rounded).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` on a bad sample rate or channel count.
 */
export function durationMs(pcm: Uint8Array, format: PcmFormat = {}): number {
  const { sampleRate = 48000, channels = 2 } = format;
  checkSampleRate(sampleRate, 'durationMs');
  checkChannels(channels, 'durationMs');
  return (frameCount(pcm, channels) * 1000) / sampleRate;
}
