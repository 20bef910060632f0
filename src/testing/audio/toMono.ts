import { checkChannels, frameCount, viewOf } from './internal/pcm';

/**
 * Mixes s16le interleaved PCM down to one channel of floats.
 *
 * @param pcm raw PCM, s16le interleaved; a trailing partial frame is ignored.
 * @param channels interleaved channel count. Default 2.
 * @returns one value per frame: the mean of the frame's channels divided by 32768, so in [-1, 1).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` when `channels` is not a positive integer.
 */
export function toMono(pcm: Uint8Array, channels = 2): Float32Array {
  checkChannels(channels, 'toMono');
  const frames = frameCount(pcm, channels);
  const view = viewOf(pcm);
  const out = new Float32Array(frames);
  const scale = 1 / (32768 * channels);
  let offset = 0;
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      sum += view.getInt16(offset, true);
      offset += 2;
    }
    out[i] = sum * scale;
  }
  return out;
}
