import { map, type OperatorFunction } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import type { VoiceConnection } from '../gateway/connectVoice';

/**
 * DAVE end-to-end encryption of Opus frames for `conn` (daveprotocol.com, "Encoded Frame
 * Transforms"): while the connection's DAVE session is active each frame becomes an E2EE
 * frame (ending in the `0xFAFA` marker); silence frames, and every frame while DAVE is off,
 * pending or in passthrough, pass unchanged. Goes between `opusEncode` and `packetize`
 * (`voiceSink` does this itself). Completes and errors with its source.
 *
 * @example
 * ```ts
 * opus$.pipe(pace(), daveEncrypt(conn), packetize(conn), encrypt(conn))
 * ```
 */
export function daveEncrypt(conn: Pick<VoiceConnection, 'transport'>): OperatorFunction<OpusPacket, OpusPacket> {
  return map((frame) => conn.transport?.e2ee(frame) ?? frame);
}
