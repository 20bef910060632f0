/**
 * Typed errors thrown or emitted by rxvoice. Every error the library produces is an
 * instance of {@link RxVoiceError} with a machine-readable `code`, so callers can branch
 * on `err.code` instead of parsing messages.
 */

import type { CliErrorCode } from './cli/CliError';
import type { VoiceConnectionErrorCode } from './gateway/VoiceConnectionError';
import type { AudioSourceErrorCode } from './sources/AudioSourceError';

/** Codes of plain {@link RxVoiceError}s (the subclasses have their own, below). */
export type GeneralErrorCode =
  /** A function or option got a value outside its documented range (thrown at call time). */
  | 'INVALID_ARGUMENT'
  /** An audio filter's parameters are outside their documented range ({@link InvalidFilterError}: `field` names the field). */
  | 'INVALID_FILTER'
  /** A frame is not what the operator takes (e.g. a PCM frame longer than 3840 bytes). */
  | 'BAD_FRAME'
  /** The voice connection was destroyed or gave up while playing (`cause`: its error). */
  | 'CONNECTION_CLOSED'
  /** `conn.ready()` timed out. */
  | 'READY_TIMEOUT'
  /** libopus could not be set up or rejected a frame. */
  | 'OPUS_ENCODER_FAILED'
  /** An Opus packet could not be parsed or decoded. */
  | 'OPUS_MALFORMED'
  /** A file sink could not write its file. */
  | 'SINK_FAILED'
  /** A WAV file could not be parsed (`parseWav`). */
  | 'WAV_MALFORMED'
  /** DAVE is not active on the connection (`verificationCode`). */
  | 'DAVE_NOT_ACTIVE'
  /** The connection has no voice server yet. */
  | 'NOT_CONNECTED'
  /** Not available where the connection runs (e.g. DAVE encryption on the main thread for a connection on a driver thread). */
  | 'NOT_SUPPORTED'
  /** An encoded Lavalink track is not valid base64 of lavaplayer's track format, or a track cannot be encoded (a text over 65535 bytes). */
  | 'BAD_TRACK'
  /** A Lavalink `application.yml` could not be read or parsed (the message names the file). */
  | 'BAD_CONFIG';

/** Every code an rxvoice error can carry: one union to `switch` on. */
export type RxVoiceErrorCode =
  | GeneralErrorCode
  | ProtocolErrorCode
  | VoiceConnectionErrorCode
  | AudioSourceErrorCode
  | 'FFMPEG_NOT_FOUND'
  | CliErrorCode;

/** Base class of every error rxvoice throws or emits. */
export class RxVoiceError<C extends RxVoiceErrorCode = RxVoiceErrorCode> extends Error {
  /** Machine-readable error code, stable across releases. */
  readonly code: C;

  constructor(code: C, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Codes of {@link ProtocolError}. */
export type ProtocolErrorCode =
  | 'RTP_TOO_SHORT'
  | 'RTP_BAD_VERSION'
  | 'RTP_BAD_PADDING'
  | 'RTP_BAD_FIELD'
  | 'IP_DISCOVERY_BAD_PACKET'
  | 'GATEWAY_BAD_PAYLOAD'
  | 'GATEWAY_BAD_BINARY_FRAME'
  | 'CRYPTO_UNKNOWN_MODE'
  | 'CRYPTO_BAD_KEY'
  | 'CRYPTO_PACKET_TOO_SHORT'
  | 'CRYPTO_AUTH_FAILED';

/**
 * A wire-format error: a malformed RTP packet, IP discovery datagram, gateway payload,
 * or a packet that fails AEAD authentication. Thrown by the pure functions in
 * `src/protocol`; never a crash — callers count and drop the packet.
 */
export class ProtocolError extends RxVoiceError<ProtocolErrorCode> {}

/** Codes of {@link RxVoiceWarning}. */
export type RxVoiceWarningCode = 'RXVOICE_NO_DEMAND';

/**
 * Something works but not as it should (e.g. a source ignores demand, so memory grows).
 * Given to an `onWarning` option where there is one, else emitted with
 * `process.emitWarning` (listen with `process.on('warning', …)`; `name` is `RxVoiceWarning`).
 */
export class RxVoiceWarning extends Error {
  constructor(
    readonly code: RxVoiceWarningCode,
    message: string,
  ) {
    super(message);
    this.name = 'RxVoiceWarning';
  }
}

