/**
 * Voice gateway close codes (Discord docs, "Opcodes and Status Codes" → "Voice Close
 * Event Codes") and what a client does on each.
 */

/** What a client does after a close. */
export type CloseAction =
  /** Reconnect and send op 7 RESUME with `seq_ack`; the UDP socket and key stay. */
  | 'resume'
  /** Reconnect and send a fresh op 0 IDENTIFY (new session on the same endpoint). */
  | 'reidentify'
  /** Stop: the error is final (bad token, kicked, DAVE required, rate limited…). */
  | 'give-up';

export interface CloseCodeInfo {
  code: number;
  name: string;
  /** What it means, for error messages. */
  description: string;
  action: CloseAction;
}

const table: CloseCodeInfo[] = [
  { code: 4001, name: 'UNKNOWN_OPCODE', description: 'the client sent an invalid opcode', action: 'reidentify' },
  { code: 4002, name: 'FAILED_TO_DECODE', description: 'the client sent a payload the server could not decode', action: 'reidentify' },
  { code: 4003, name: 'NOT_AUTHENTICATED', description: 'the client sent a payload before identifying', action: 'reidentify' },
  { code: 4004, name: 'AUTHENTICATION_FAILED', description: 'the token in IDENTIFY is incorrect', action: 'give-up' },
  { code: 4005, name: 'ALREADY_AUTHENTICATED', description: 'the client identified more than once', action: 'reidentify' },
  { code: 4006, name: 'SESSION_NO_LONGER_VALID', description: 'the session is no longer valid', action: 'reidentify' },
  { code: 4009, name: 'SESSION_TIMEOUT', description: 'the session timed out (heartbeats missed)', action: 'reidentify' },
  { code: 4011, name: 'SERVER_NOT_FOUND', description: 'the voice server was not found', action: 'give-up' },
  { code: 4012, name: 'UNKNOWN_PROTOCOL', description: 'the protocol in SELECT_PROTOCOL was not recognised', action: 'give-up' },
  {
    code: 4014,
    name: 'DISCONNECTED',
    description: 'disconnected: kicked, channel deleted or moved; do not reconnect blindly',
    action: 'give-up',
  },
  { code: 4015, name: 'VOICE_SERVER_CRASHED', description: 'the voice server crashed; resume', action: 'resume' },
  { code: 4016, name: 'UNKNOWN_ENCRYPTION_MODE', description: 'the encryption mode was not recognised', action: 'give-up' },
  {
    code: 4017,
    name: 'E2EE_REQUIRED',
    description: 'DAVE end-to-end encryption is required for this channel (identify with max_dave_protocol_version 1)',
    action: 'give-up',
  },
  { code: 4020, name: 'BAD_REQUEST', description: 'the client sent a malformed request', action: 'give-up' },
  { code: 4021, name: 'RATE_LIMITED', description: 'disconnected: rate limited', action: 'give-up' },
  { code: 4022, name: 'CALL_TERMINATED', description: 'disconnected: the call was terminated', action: 'give-up' },
];

/**
 * RFC 6455 §7.4.1: 1015, never sent in a close frame, reports a failed TLS handshake. rxvoice
 * reports a voice server certificate that is not trusted (self-signed, expired, another host
 * name) with it; retrying cannot succeed, so the connection gives up at once.
 */
export const TLS_HANDSHAKE_FAILED = 1015;
const TLS_FAILURE: CloseCodeInfo = {
  code: TLS_HANDSHAKE_FAILED,
  name: 'TLS_HANDSHAKE_FAILED',
  description: "the voice server's TLS certificate was not accepted (untrusted, expired or for another host; pass `tls: { ca }` for a test server)",
  action: 'give-up',
};

/** Every known voice close code, keyed by code. */
export const VOICE_CLOSE_CODES: ReadonlyMap<number, CloseCodeInfo> = new Map(table.map((c) => [c.code, c]));

/** Named constants for the codes. */
export const VoiceCloseCode = {
  UnknownOpcode: 4001,
  FailedToDecode: 4002,
  NotAuthenticated: 4003,
  AuthenticationFailed: 4004,
  AlreadyAuthenticated: 4005,
  SessionNoLongerValid: 4006,
  SessionTimeout: 4009,
  ServerNotFound: 4011,
  UnknownProtocol: 4012,
  Disconnected: 4014,
  VoiceServerCrashed: 4015,
  UnknownEncryptionMode: 4016,
  E2eeRequired: 4017,
  BadRequest: 4020,
  RateLimited: 4021,
  CallTerminated: 4022,
} as const;

/**
 * Describes any close code: a known voice code from the table; other codes (1000–1015
 * from RFC 6455, network loss, a 4xxx Discord has not documented) are treated as
 * transient and resumed.
 */
export function describeCloseCode(code: number): CloseCodeInfo {
  const known = VOICE_CLOSE_CODES.get(code);
  if (known) return known;
  if (code === TLS_HANDSHAKE_FAILED) return TLS_FAILURE;
  return { code, name: 'TRANSIENT', description: `connection closed (code ${code})`, action: 'resume' };
}
