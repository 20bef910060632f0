import { checkChannels, frameCount, viewOf } from './internal/pcm';

/**
 * Root-mean-square level of s16le interleaved PCM, relative to full scale (32768), taken
 * over every sample of every channel (channels are not mixed first, so opposite-phase
 * channels do not cancel). A sine of peak amplitude `a` gives ≈ `a / √2`
 * (0.5 → ≈ 0.3536); silence or empty input gives 0.
 *
 * @param pcm raw PCM, s16le interleaved; a trailing partial frame is ignored.
 * @param channels interleaved channel count. Default 2.
 * @returns a number in [0, 1].
 * @throws {RxVoiceError} `INVALID_ARGUMENT` when `channels` is not a positive integer.
 */
export function rms(pcm: Uint8Array, channels = 2): number {
  checkChannels(channels, 'rms');
  const samples = frameCount(pcm, channels) * channels;
  if (samples === 0) return 0;
  const view = viewOf(pcm);
  let sum = 0;
  for (let i = 0; i < samples; i++) {
    const s = view.getInt16(2 * i, true);
    sum += s * s;
  }
  return Math.sqrt(sum / samples) / 32768;
}
