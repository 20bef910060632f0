import { RxVoiceError } from '../errors';

/** Codes of {@link VoiceConnectionError}. */
export type VoiceConnectionErrorCode =
  /** The gateway closed with a code after which retrying cannot help (see `closeCode`). */
  | 'CLOSED'
  /** Retries were exhausted (attempts or time) after transient failures. */
  | 'RECONNECT_FAILED'
  /** The server offered no encryption mode rxvoice supports. */
  | 'NO_SUPPORTED_MODE'
  /** UDP IP discovery got no answer in time, or the UDP socket closed. */
  | 'IP_DISCOVERY_FAILED'
  /** The server sent a payload rxvoice could not use where it needed one (READY, SESSION_DESCRIPTION). */
  | 'BAD_SERVER_PAYLOAD'
  /** Options were invalid (endpoint, ids). */
  | 'BAD_OPTIONS'
  /** The main gateway (the adapter, or `MainGatewayLink.send`) could not send the op 4 VOICE_STATE_UPDATE: is the shard connected? */
  | 'GATEWAY_UNAVAILABLE'
  /** The main gateway said the bot left the channel (VOICE_STATE_UPDATE with `channel_id: null`). */
  | 'LEFT_CHANNEL'
  /** The driver thread that ran the connection died (see `configureVoiceDriver`); `rejoin()` starts it again on a new thread. */
  | 'DRIVER_CRASHED';

/**
 * Why a voice connection gave up. Carried by the `disconnected` state and thrown into
 * `state$` consumers that wait for `ready`.
 */
export class VoiceConnectionError extends RxVoiceError<VoiceConnectionErrorCode> {
  /** The WebSocket close code, when a close caused this. */
  readonly closeCode: number | null;

  constructor(code: VoiceConnectionErrorCode, message: string, options: { closeCode?: number; cause?: unknown } = {}) {
    super(code, message, { cause: options.cause });
    this.closeCode = options.closeCode ?? null;
  }

  /** JSON form for logs (no stack, no secrets). */
  toJSON(): { name: string; code: VoiceConnectionErrorCode; closeCode: number | null; message: string } {
    return { name: this.name, code: this.code, closeCode: this.closeCode, message: this.message };
  }
}
