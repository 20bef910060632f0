import { Observable, type OperatorFunction } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import { sendLaneOf } from '../core/SendLane';
import type { VoiceConnection } from '../gateway/connectVoice';

/** An RTP packet before transport encryption. */
export interface RtpPacket {
  /** 12-byte RTP header (version 2, payload type 120). */
  header: Buffer;
  /** The Opus (or DAVE) payload. */
  payload: Buffer;
  sequence: number;
  /** 48 kHz samples. */
  timestamp: number;
  ssrc: number;
}

/**
 * Wraps each Opus packet in an RTP header for `conn`'s SSRC: sequence +1 and timestamp
 * +960 per packet, both from random starting values and wrapping (RFC 3550; Discord
 * docs, "Voice Connections" → "Voice Packet Structure"). Packets that arrive while the
 * connection is not ready are dropped. Completes and errors with its source.
 *
 * @example
 * ```ts
 * opus$.pipe(pace(), packetize(conn), encrypt(conn)).subscribe((packet) => conn.transport?.udp.send(packet));
 * ```
 */
export function packetize(conn: Pick<VoiceConnection, 'transport'>): OperatorFunction<OpusPacket, RtpPacket> {
  return (source) =>
    new Observable<RtpPacket>((subscriber) => {
      const rtp = sendLaneOf(conn).rtp; // the connection's RTP state: continues across operators and sinks
      return source.subscribe({
        next: (payload) => {
          const t = conn.transport;
          if (!t) return;
          const { sequence, timestamp } = rtp;
          const header = Buffer.from(rtp.nextHeader(t.ssrc));
          rtp.advance();
          subscriber.next({ header, payload, sequence, timestamp, ssrc: t.ssrc });
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}
