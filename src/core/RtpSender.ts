import { randomInt } from 'node:crypto';
import { OPUS_PAYLOAD_TYPE, RTP_HEADER_SIZE } from '../protocol/rtp';
import type { TransportCipher } from '../protocol/transportCrypto';
import { SAMPLES_PER_FRAME } from './audioFormat';

/**
 * RTP state of one outgoing stream: sequence (u16) and timestamp (u32, 48 kHz) starting
 * at random values and wrapping, and the 32-bit transport nonce counter. Writes headers
 * into one reusable 12-byte buffer; the only allocation per packet is the sealed packet.
 * (Discord docs, "Voice Connections" → "Encrypting and Sending Voice".)
 */
export class RtpSender {
  sequence = randomInt(0, 0x10000);
  timestamp = randomInt(0, 0x100000000);
  nonce = randomInt(0, 0x100000000);
  private readonly header = Buffer.alloc(RTP_HEADER_SIZE);

  /** Writes the header for the next packet and advances the sequence; returns the shared header buffer. */
  nextHeader(ssrc: number): Buffer {
    const h = this.header;
    h[0] = 0x80;
    h[1] = OPUS_PAYLOAD_TYPE;
    h.writeUInt16BE(this.sequence, 2);
    h.writeUInt32BE(this.timestamp, 4);
    h.writeUInt32BE(ssrc >>> 0, 8);
    this.sequence = (this.sequence + 1) & 0xffff;
    return h;
  }

  /** Advances the timestamp by `frames` × 960 samples (1 per packet; more after a stall). */
  advance(frames = 1): void {
    this.timestamp = (this.timestamp + SAMPLES_PER_FRAME * frames) >>> 0;
  }

  /** Seals `payload` behind `header` with the next nonce. */
  seal(cipher: TransportCipher, header: Uint8Array, payload: Uint8Array): Buffer {
    this.nonce = (this.nonce + 1) >>> 0;
    return cipher.seal(header, payload, this.nonce);
  }

  /** Header, seal and timestamp advance in one call: the per-packet hot path. */
  packet(cipher: TransportCipher, ssrc: number, payload: Uint8Array, frames = 1): Buffer {
    const sealed = this.seal(cipher, this.nextHeader(ssrc), payload);
    this.advance(frames);
    return sealed;
  }
}
