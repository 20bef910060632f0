/**
 * Typed errors thrown or emitted by rxvoice. Every error the library produces is an
 * instance of {@link RxVoiceError} with a machine-readable `code`, so callers can branch
 * on `err.code` instead of parsing messages.
 */

/** Base class of every error rxvoice throws or emits. */
export class RxVoiceError<C extends string = string> extends Error {
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

/** The default warning hook: `process.emitWarning`. */
export function emitProcessWarning(warning: RxVoiceWarning): void {
  process.emitWarning(warning);
}
