import { Observable, Subject } from 'rxjs';
import WebSocket from 'ws';
import { ProtocolError } from '../errors';
import { TLS_HANDSHAKE_FAILED } from '../protocol/closeCodes';
import { encodeVoiceMessage, parseServerBinaryFrame, parseVoiceMessage, type VoiceMessage } from '../protocol/opcodes';

/** OpenSSL / Node codes of a server certificate that is not accepted (node:tls `checkServerIdentity`, X509 verify). */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);
const isCertificateError = (err: Error): boolean => CERTIFICATE_ERRORS.has(String((err as { code?: unknown }).code));

/** What a gateway socket reports. */
export type GatewaySocketEvent =
  | { type: 'open' }
  | { type: 'message'; message: VoiceMessage }
  | { type: 'binary'; seq: number; op: number; payload: Buffer }
  /** A frame that did not parse: reported, never fatal. */
  | { type: 'bad-frame'; error: ProtocolError }
  | { type: 'close'; code: number; reason: string };

/** One WebSocket to the voice gateway, as the connection machine sees it. */
export interface GatewaySocket {
  readonly events$: Observable<GatewaySocketEvent>;
  /** Sends a JSON message or a binary frame; dropped when the socket is not open. */
  send(data: VoiceMessage | Buffer): void;
  /** Closes with `code` (1000 ends the session; 4000 keeps it resumable). */
  close(code: number): void;
}

/** TLS options for `wss://` (e.g. the emulator's self-signed certificate). */
export interface GatewayTlsOptions {
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
}

/**
 * Opens a voice gateway WebSocket with `ws`. Text frames are parsed as JSON messages;
 * binary frames as server DAVE frames `[u16 seq][u8 op][payload]`. Errors become a
 * `close` event (code 1006 when the socket never opened or dropped).
 */
export function openGatewaySocket(url: string, tls: GatewayTlsOptions = {}): GatewaySocket {
  const events = new Subject<GatewaySocketEvent>();
  let closed = false;
  const finish = (code: number, reason: string): void => {
    if (closed) return;
    closed = true;
    events.next({ type: 'close', code, reason });
    events.complete();
  };
  let ws: WebSocket;
  try {
    ws = new WebSocket(url, { ...tls, handshakeTimeout: 15_000, perMessageDeflate: false });
  } catch (err) {
    // A URL `ws` refuses (e.g. a VOICE_SERVER_UPDATE endpoint that is not host:port): a close
    // like any failed connect, on the next tick (the caller subscribes after this returns).
    const reason = `invalid voice gateway URL ${JSON.stringify(url)}: ${err instanceof Error ? err.message : String(err)}`;
    setImmediate(() => finish(1006, reason));
    return { events$: events.asObservable(), send: () => undefined, close: () => finish(1006, reason) };
  }
  ws.on('open', () => events.next({ type: 'open' }));
  ws.on('message', (data, isBinary) => {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    try {
      if (isBinary) {
        const frame = parseServerBinaryFrame(buf);
        events.next({ type: 'binary', seq: frame.seq, op: frame.op, payload: frame.payload });
      } else {
        events.next({ type: 'message', message: parseVoiceMessage(buf.toString('utf8')) });
      }
    } catch (err) {
      if (err instanceof ProtocolError) events.next({ type: 'bad-frame', error: err });
      else throw err;
    }
  });
  ws.on('close', (code, reason) => finish(code, reason.toString()));
  ws.on('error', (err) => {
    // A certificate the TLS layer refuses cannot work on a retry: 1015 (RFC 6455 §7.4.1), given up on.
    finish(isCertificateError(err) ? TLS_HANDSHAKE_FAILED : 1006, err.message);
    ws.terminate();
  });
  return {
    events$: events.asObservable(),
    send(data) {
      if (ws.readyState !== WebSocket.OPEN) return;
      ws.send(Buffer.isBuffer(data) ? data : encodeVoiceMessage(data));
    },
    close(code) {
      if (ws.readyState === WebSocket.OPEN) ws.close(code);
      else if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      finish(code, 'closed by client');
    },
  };
}

