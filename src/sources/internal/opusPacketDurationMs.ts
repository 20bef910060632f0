import { FRAME_MS } from '../../core/audioFormat';

/** Frame duration, ms, per TOC configuration number (RFC 6716 §3.1, table 2). */
const CONFIG_FRAME_MS: readonly number[] = [
  // SILK NB, MB, WB: 10, 20, 40, 60 ms
  10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 40, 60,
  // Hybrid SWB, FB: 10, 20 ms
  10, 20, 10, 20,
  // CELT NB, WB, SWB, FB: 2.5, 5, 10, 20 ms
  2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20,
];

/**
 * Duration of one Opus packet, ms, from its TOC byte (RFC 6716 §3.1): frame size from the
 * configuration number × frame count from the code (0 → 1, 1/2 → 2, 3 → the count byte).
 *
 * @returns 2.5 … 120; {@link FRAME_MS} (20) for a malformed packet (empty, or code 3
 *   without a count byte), so a demand gate still advances.
 */
export function opusPacketDurationMs(packet: Uint8Array): number {
  if (packet.length === 0) return FRAME_MS;
  const toc = packet[0];
  const frameMs = CONFIG_FRAME_MS[toc >> 3];
  switch (toc & 3) {
    case 0:
      return frameMs;
    case 1:
    case 2:
      return 2 * frameMs;
    default: {
      if (packet.length < 2) return FRAME_MS;
      const count = packet[1] & 0x3f;
      return count === 0 ? FRAME_MS : count * frameMs;
    }
  }
}
