import { randomInt } from 'node:crypto';
import { OPUS_PAYLOAD_TYPE, RTP_HEADER_SIZE } from '../protocol/rtp';
import type { TransportCipher } from '../protocol/transportCrypto';
import { SAMPLES_PER_FRAME } from './audioFormat';

/**
 * RTP state of one outgoing stream: sequence (u16) and timestamp (u32, 48 kHz) starting
 * at random values and wrapping, and the 32-bit transport nonce counter. Writes headers
 * into one reusable 12-byte buffer; the sealed packet goes into the caller's buffer if given.
 * (Discord docs, "Voice Connections" → "Encrypting and Sending Voice".)
 */
export class RtpSender {
  sequence = randomInt(0, 0x10000);
  timestamp = randomInt(0, 0x100000000);
  nonce = randomInt(0, 0x100000000);
  private readonly header = Buffer.alloc(RTP_HEADER_SIZE);

  /** Writes the header for the next packet and advances the sequence; returns the shared header buffer. */
  nextHeader(ssrc: number): Buffer {
    // Byte stores (Buffer's writeUInt*BE check their arguments on every call).
    const h = this.header;
    const seq = this.sequence;
    const ts = this.timestamp;
    h[0] = 0x80;
    h[1] = OPUS_PAYLOAD_TYPE;
    h[2] = seq >>> 8;
    h[3] = seq;
    h[4] = ts >>> 24;
    h[5] = ts >>> 16;
    h[6] = ts >>> 8;
    h[7] = ts;
    h[8] = ssrc >>> 24;
    h[9] = ssrc >>> 16;
    h[10] = ssrc >>> 8;
    h[11] = ssrc;
    this.sequence = (seq + 1) & 0xffff;
    return h;
  }

  /** Advances the timestamp by `frames` × 960 samples (1 per packet; more after a stall). */
  advance(frames = 1): void {
    this.timestamp = (this.timestamp + SAMPLES_PER_FRAME * frames) >>> 0;
  }

  /** Seals `payload` behind `header` with the next nonce (into `out` if it is given and large enough). */
  seal(cipher: TransportCipher, header: Uint8Array, payload: Uint8Array, out?: Buffer): Buffer {
    this.nonce = (this.nonce + 1) >>> 0;
    return cipher.seal(header, payload, this.nonce, out);
  }

  /**
   * Header, seal and timestamp advance in one call: the per-packet hot path. With `out`
   * (large enough), the packet is a view of it and nothing else is allocated (XChaCha20).
   */
  packet(cipher: TransportCipher, ssrc: number, payload: Uint8Array, frames = 1, out?: Buffer): Buffer {
    const sealed = this.seal(cipher, this.nextHeader(ssrc), payload, out);
    this.timestamp = (this.timestamp + SAMPLES_PER_FRAME * frames) >>> 0;
    return sealed;
  }
}
