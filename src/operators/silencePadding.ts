import { concat, of, type MonoTypeOperatorFunction } from 'rxjs';
import { OPUS_SILENCE_FRAME, type OpusPacket } from '../core/audioFormat';

/**
 * Appends `n` Opus silence frames (`F8 FF FE`) when the stream completes, so receivers
 * don't interpolate across the end of speech (Discord docs, "Voice Data Interpolation").
 * Nothing is appended when the stream errors.
 *
 * @example
 * ```ts
 * opusPackets$.pipe(silencePadding(), pace(), packetize(conn), encrypt(conn))
 * ```
 */
export function silencePadding(n = 5): MonoTypeOperatorFunction<OpusPacket> {
  const frames = Array.from({ length: n }, () => Buffer.from(OPUS_SILENCE_FRAME));
  return (source) => concat(source, of(...frames));
}
