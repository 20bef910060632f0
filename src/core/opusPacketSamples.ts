import { RxVoiceError } from '../errors';

/**
 * Samples per channel at 48 kHz of one Opus frame, by TOC `config` (RFC 6716 §3.1,
 * Table 2): configs 0–11 are SILK-only (10/20/40/60 ms), 12–15 hybrid (10/20 ms) and
 * 16–31 CELT-only (2.5/5/10/20 ms).
 */
const FRAME_SAMPLES: readonly number[] = [
  // SILK-only NB, MB, WB: 10, 20, 40, 60 ms
  480, 960, 1920, 2880, 480, 960, 1920, 2880, 480, 960, 1920, 2880,
  // Hybrid SWB, FB: 10, 20 ms
  480, 960, 480, 960,
  // CELT-only NB, WB, SWB, FB: 2.5, 5, 10, 20 ms
  120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960, 120, 240, 480, 960,
];

/** Longest audio one Opus packet may hold: 120 ms at 48 kHz (RFC 6716 §3.2.5). */
const MAX_PACKET_SAMPLES = 5760;

/**
 * The duration of one Opus packet in samples per channel at 48 kHz, read from its TOC
 * byte (RFC 6716 §3.1): the frame size from the `config` field times the frame count
 * from the `c` field (1 for code 0, 2 for codes 1 and 2, and the `M` field of the
 * frame-count byte for code 3). The rest of the packet is not parsed or validated.
 *
 * Opus always counts time at 48 kHz regardless of the encoded bandwidth, so the result is
 * also the Ogg granule-position step (RFC 7845 §4) and the RTP timestamp step. A 20 ms
 * packet (as Discord sends) gives 960; the Opus silence frame `F8 FF FE` gives 960.
 *
 * @param packet one Opus packet (not an Ogg page or RTP payload with headers).
 * @returns samples per channel at 48 kHz, 120…5760 (2.5…120 ms).
 * @throws {RxVoiceError} `OPUS_MALFORMED` when the packet is empty, a code-3 packet has
 *   no frame-count byte or declares 0 frames, or the total exceeds 120 ms (RFC 6716
 *   §3.4, requirements R1, R5).
 *
 * @example
 * ```ts
 * opusPacketSamples(Buffer.from([0xf8, 0xff, 0xfe])); // 960 (20 ms)
 * const ms = opusPacketSamples(packet) / 48;
 * ```
 */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length === 0) {
    throw new RxVoiceError('OPUS_MALFORMED', 'opusPacketSamples: an Opus packet has at least one byte (its TOC)');
  }
  const toc = packet[0];
  const frameSamples = FRAME_SAMPLES[toc >> 3];
  let frames: number;
  switch (toc & 0x03) {
    case 0:
      frames = 1;
      break;
    case 1:
    case 2:
      frames = 2;
      break;
    default:
      if (packet.length < 2) {
        throw new RxVoiceError('OPUS_MALFORMED', 'opusPacketSamples: code 3 packet has no frame count byte');
      }
      frames = packet[1] & 0x3f;
      if (frames === 0) {
        throw new RxVoiceError('OPUS_MALFORMED', 'opusPacketSamples: code 3 packet declares 0 frames');
      }
  }
  const samples = frames * frameSamples;
  if (samples > MAX_PACKET_SAMPLES) {
    throw new RxVoiceError(
      'OPUS_MALFORMED',
      `opusPacketSamples: ${frames} frames of ${frameSamples / 48} ms exceed the 120 ms an Opus packet may hold`,
    );
  }
  return samples;
}
