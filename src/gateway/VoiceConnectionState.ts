import type { EncryptionMode } from '../protocol/transportCrypto';
import type { VoiceConnectionError } from './VoiceConnectionError';

/** A UDP address. */
export interface UdpAddress {
  address: string;
  port: number;
}

/**
 * Why a connection is `destroyed`:
 * - `destroy-called`: the application called `destroy()` (the bot left: op 4 with no channel);
 * - `disconnected-by-server`: the main gateway said the bot is in no channel any more
 *   (VOICE_STATE_UPDATE with `channel_id: null`): a moderator disconnected it, the channel
 *   was deleted, or it left from elsewhere. Nothing is retried;
 * - `adapter-gone`: the gateway adapter was destroyed (e.g. discord.js lost the shard).
 */
export type VoiceConnectionDestroyReason = 'destroy-called' | 'disconnected-by-server' | 'adapter-gone';

/**
 * The state of a voice connection, a union discriminated on `status`.
 *
 * ```
 * connecting ─open→ identifying ─READY→ discovering ─IP found→ selecting-protocol ─SESSION_DESCRIPTION→ ready
 *      ↑                                                                                                │
 *      └──── reconnecting (backoff) ←── close 4006/4009, UDP failure ── any state ── close 4015/network/3 missed ACKs ──→ reconnecting → resuming ─RESUMED→ ready
 * give-up closes (4004, 4014, 4017, 4021, 4022…) or exhausted retries → disconnected;  destroy() → destroyed
 * joined through a main gateway: 4014 → reconnecting (waiting for the main gateway) → a move connects anew
 *   (connecting …), no channel any more → destroyed, no word in time → disconnected
 * ```
 * The secret key is never part of the state.
 */
export type VoiceConnectionState =
  | { status: 'connecting'; endpoint: string; attempt: number }
  | { status: 'identifying'; endpoint: string; attempt: number }
  | { status: 'discovering'; endpoint: string; ssrc: number; server: UdpAddress }
  | { status: 'selecting-protocol'; endpoint: string; ssrc: number; server: UdpAddress; local: UdpAddress; mode: EncryptionMode }
  | { status: 'ready'; endpoint: string; ssrc: number; server: UdpAddress; local: UdpAddress; mode: EncryptionMode; daveProtocolVersion: number }
  | { status: 'resuming'; endpoint: string; attempt: number }
  | { status: 'reconnecting'; endpoint: string; attempt: number; delayMs: number; next: 'resume' | 'identify'; reason: string }
  | { status: 'disconnected'; endpoint: string; error: VoiceConnectionError }
  | { status: 'destroyed'; reason: VoiceConnectionDestroyReason };

/** The `status` values. */
export type VoiceConnectionStatus = VoiceConnectionState['status'];
