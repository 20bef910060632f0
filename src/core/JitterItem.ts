import type { OpusPacket } from './audioFormat';

/**
 * A 20 ms slot for which the jitter buffer had no packet when the slot was due (lost,
 * late, or the sender paused without silence frames). `opusDecode` turns it into
 * concealed audio.
 */
export interface OpusGap {
  readonly gap: true;
  /**
   * The packet of the *following* slot, when it has already arrived. Its in-band FEC
   * data (Opus LBRR) can rebuild this slot if the decoder backend supports FEC decoding.
   * It is still delivered as its own item in the next slot.
   */
  readonly next?: OpusPacket;
}

/** What a jitter buffer emits: exactly one item per 20 ms, a packet or a gap. */
export type JitterItem = OpusPacket | OpusGap;

/** A gap without a following packet (frozen, shareable). */
export const OPUS_GAP: OpusGap = Object.freeze({ gap: true });

/** Whether `item` is a gap rather than a packet. */
export function isOpusGap(item: JitterItem): item is OpusGap {
  return !Buffer.isBuffer(item);
}
