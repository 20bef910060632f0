import { RxVoiceError } from '../../../errors';

/**
 * Internal helpers shared by the audio test helpers. Not re-exported.
 */

/** Throws `INVALID_ARGUMENT` unless `channels` is a positive integer. */
export function checkChannels(channels: number, fn: string): void {
  if (!Number.isInteger(channels) || channels < 1) {
    throw new RxVoiceError('INVALID_ARGUMENT', `${fn}: channels must be a positive integer, got ${channels}`);
  }
}

/** Throws `INVALID_ARGUMENT` unless `sampleRate` is a positive finite number. */
export function checkSampleRate(sampleRate: number, fn: string): void {
  if (!Number.isFinite(sampleRate) || sampleRate <= 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `${fn}: sampleRate must be a positive number, got ${sampleRate}`);
  }
}

/** Number of whole sample frames (one s16le sample per channel) in `pcm`. */
export function frameCount(pcm: Uint8Array, channels: number): number {
  return Math.floor(pcm.byteLength / (2 * channels));
}

/** A little-endian view over exactly the bytes of `pcm`. */
export function viewOf(pcm: Uint8Array): DataView {
  return new DataView(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}
