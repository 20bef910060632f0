import { Observable, type OperatorFunction } from 'rxjs';
import { sendLaneOf } from '../core/SendLane';
import type { VoiceConnection } from '../gateway/connectVoice';
import type { RtpPacket } from './packetize';
import { guardedNext } from './internal/guardedNext';

/**
 * Transport-encrypts RTP packets with `conn`'s mode and key (`aead_aes256_gcm_rtpsize` or
 * `aead_xchacha20_poly1305_rtpsize`): emits `header ‖ ciphertext ‖ tag ‖ u32 nonce`, the
 * nonce counter incrementing per packet (Discord docs, "Transport Encryption Modes").
 * Packets that arrive while the connection is not ready are dropped. Completes and errors
 * with its source.
 *
 * @example
 * ```ts
 * opus$.pipe(pace(), packetize(conn), encrypt(conn)).subscribe((packet) => conn.transport?.udp.send(packet));
 * ```
 */
export function encrypt(conn: Pick<VoiceConnection, 'transport'>): OperatorFunction<RtpPacket, Buffer> {
  return (source) =>
    new Observable<Buffer>((subscriber) => {
      const rtp = sendLaneOf(conn).rtp; // one nonce counter per connection: never reused for a key
      return source.subscribe({
        next: guardedNext(subscriber, 'encrypt', (packet: RtpPacket) => {
          const t = conn.transport;
          if (!t) return;
          subscriber.next(rtp.seal(t.cipher, packet.header, packet.payload));
        }),
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
