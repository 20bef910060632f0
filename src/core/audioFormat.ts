/**
 * The audio format rxvoice moves between sources, operators and sinks (Discord docs,
 * "Voice Connections" → "Encrypting and Sending Voice": Opus, 48 kHz, stereo, 20 ms frames).
 *
 * - A **PCM frame** is a `Buffer` of 3840 bytes: 960 samples per channel × 2 channels ×
 *   2 bytes, signed 16-bit little-endian, interleaved L R L R…, 48 000 Hz.
 * - An **Opus packet** is a `Buffer` holding one Opus packet of 20 ms.
 */

/** Duration of one frame, ms. */
export const FRAME_MS = 20;
/** Sample rate, Hz. */
export const SAMPLE_RATE = 48_000;
/** Channels. */
export const CHANNELS = 2;
/** Samples per channel in one frame (also the RTP timestamp step). */
export const SAMPLES_PER_FRAME = 960;
/** Bytes in one PCM frame (s16le stereo). */
export const PCM_FRAME_BYTES = SAMPLES_PER_FRAME * CHANNELS * 2;
/** The Opus silence frame `F8 FF FE`; 5 of them end a stream (Discord docs). */
export const OPUS_SILENCE_FRAME: Readonly<Buffer> = Buffer.from([0xf8, 0xff, 0xfe]);

/** One 20 ms PCM frame (s16le, 48 kHz, stereo, 3840 bytes). */
export type PcmFrame = Buffer;
/** One 20 ms Opus packet. */
export type OpusPacket = Buffer;

/** Whether `packet` is the Opus silence frame. */
export function isOpusSilence(packet: Uint8Array): boolean {
  return packet.length === 3 && packet[0] === 0xf8 && packet[1] === 0xff && packet[2] === 0xfe;
}
