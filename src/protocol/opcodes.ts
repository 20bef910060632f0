import { ProtocolError } from '../errors';

/**
 * Voice gateway opcodes, gateway version 8 (Discord docs, "Opcodes and Status Codes" →
 * "Voice Opcodes"; DAVE ops 21–31 from daveprotocol.com, "Voice Gateway Opcodes").
 */
export const VoiceOpcode = {
  Identify: 0,
  SelectProtocol: 1,
  Ready: 2,
  Heartbeat: 3,
  SessionDescription: 4,
  Speaking: 5,
  HeartbeatAck: 6,
  Resume: 7,
  Hello: 8,
  Resumed: 9,
  ClientsConnect: 11,
  ClientFlags: 12,
  ClientDisconnect: 13,
  ClientPlatform: 20,
  DavePrepareTransition: 21,
  DaveExecuteTransition: 22,
  DaveTransitionReady: 23,
  DavePrepareEpoch: 24,
  DaveMlsExternalSender: 25,
  DaveMlsKeyPackage: 26,
  DaveMlsProposals: 27,
  DaveMlsCommitWelcome: 28,
  DaveMlsAnnounceCommitTransition: 29,
  DaveMlsWelcome: 30,
  DaveMlsInvalidCommitWelcome: 31,
} as const;
export type VoiceOpcode = (typeof VoiceOpcode)[keyof typeof VoiceOpcode];

/** Opcodes that travel as binary frames (DAVE MLS messages). */
export const BINARY_OPCODES: ReadonlySet<number> = new Set([25, 26, 27, 28, 29, 30]);

/** Speaking flags for op 5 (bit field). */
export const SpeakingFlags = { Microphone: 1, Soundshare: 2, Priority: 4 } as const;

// ---- JSON payloads --------------------------------------------------------------------

export interface IdentifyData {
  server_id: string;
  user_id: string;
  session_id: string;
  token: string;
  /** 0 = no DAVE, 1 = DAVE protocol version 1. */
  max_dave_protocol_version?: number;
}
export interface SelectProtocolData {
  protocol: 'udp';
  data: { address: string; port: number; mode: string };
}
export interface ReadyData {
  ssrc: number;
  ip: string;
  port: number;
  modes: string[];
  heartbeat_interval?: number;
}
export interface HeartbeatData {
  /** Client timestamp (ms), echoed by op 6. */
  t: number;
  /** Last server `seq` seen, -1 if none (gateway v8). */
  seq_ack: number;
}
export interface SessionDescriptionData {
  mode: string;
  /** 32-byte secret key as a number array. */
  secret_key: number[];
  dave_protocol_version?: number;
}
export interface SpeakingData {
  speaking: number;
  delay?: number;
  ssrc: number;
  /** Present server → client: the user owning `ssrc`. */
  user_id?: string;
}
export interface HeartbeatAckData {
  t: number;
}
export interface ResumeData {
  server_id: string;
  session_id: string;
  token: string;
  seq_ack: number;
}
export interface HelloData {
  heartbeat_interval: number;
}
export interface ClientsConnectData {
  user_ids: string[];
}
export interface ClientDisconnectData {
  user_id: string;
}
export interface DavePrepareTransitionData {
  protocol_version: number;
  transition_id: number;
}
export interface DaveExecuteTransitionData {
  transition_id: number;
}
export interface DaveTransitionReadyData {
  transition_id: number;
}
export interface DavePrepareEpochData {
  protocol_version: number;
  epoch: number;
}
export interface DaveInvalidCommitWelcomeData {
  transition_id: number;
}

/** Payload type of each JSON opcode. */
export interface VoicePayloadMap {
  0: IdentifyData;
  1: SelectProtocolData;
  2: ReadyData;
  3: HeartbeatData;
  4: SessionDescriptionData;
  5: SpeakingData;
  6: HeartbeatAckData;
  7: ResumeData;
  8: HelloData;
  9: null;
  11: ClientsConnectData;
  13: ClientDisconnectData;
  21: DavePrepareTransitionData;
  22: DaveExecuteTransitionData;
  23: DaveTransitionReadyData;
  24: DavePrepareEpochData;
  31: DaveInvalidCommitWelcomeData;
}

/** A JSON gateway message with a known opcode. */
export type KnownVoiceMessage = {
  [K in keyof VoicePayloadMap]: { op: K; d: VoicePayloadMap[K]; seq?: number };
}[keyof VoicePayloadMap];

/** Any JSON gateway message: `{op, d, seq?}` (`seq` on server messages in v8). */
export interface VoiceMessage {
  op: number;
  d: unknown;
  seq?: number;
}

/**
 * Parses a JSON text frame into `{op, d, seq?}`; checks only the envelope (an object with
 * an integer `op`). Unknown opcodes are returned as they are; callers decide.
 * @throws {ProtocolError} `GATEWAY_BAD_PAYLOAD`.
 */
export function parseVoiceMessage(text: string): VoiceMessage {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ProtocolError('GATEWAY_BAD_PAYLOAD', 'gateway payload is not valid JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('GATEWAY_BAD_PAYLOAD', 'gateway payload is not a JSON object');
  }
  const { op, d, seq } = value as Record<string, unknown>;
  if (typeof op !== 'number' || !Number.isInteger(op)) {
    throw new ProtocolError('GATEWAY_BAD_PAYLOAD', 'gateway payload has no integer "op"');
  }
  if (seq !== undefined && seq !== null && (typeof seq !== 'number' || !Number.isInteger(seq))) {
    throw new ProtocolError('GATEWAY_BAD_PAYLOAD', 'gateway payload "seq" is not an integer');
  }
  const msg: VoiceMessage = { op, d };
  if (typeof seq === 'number') msg.seq = seq;
  return msg;
}

/** Serialises a JSON gateway message. */
export function encodeVoiceMessage(msg: VoiceMessage): string {
  return JSON.stringify(msg);
}

// ---- binary frames (DAVE) ---------------------------------------------------------------

/** A binary gateway frame. Server → client frames carry `seq`; client → server do not. */
export interface BinaryVoiceFrame {
  op: number;
  payload: Buffer;
  seq?: number;
}

/**
 * Parses a server → client binary frame `[u16 BE seq][u8 op][payload]` (daveprotocol.com,
 * "Binary Opcodes"). `payload` is a view, not a copy.
 * @throws {ProtocolError} `GATEWAY_BAD_BINARY_FRAME` when shorter than 3 bytes.
 */
export function parseServerBinaryFrame(data: Uint8Array): Required<BinaryVoiceFrame> {
  if (data.length < 3) throw new ProtocolError('GATEWAY_BAD_BINARY_FRAME', `binary frame of ${data.length} bytes, need at least 3`);
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { seq: buf.readUInt16BE(0), op: buf[2], payload: buf.subarray(3) };
}

/**
 * Parses a client → server binary frame `[u8 op][payload]`.
 * @throws {ProtocolError} `GATEWAY_BAD_BINARY_FRAME` when empty.
 */
export function parseClientBinaryFrame(data: Uint8Array): BinaryVoiceFrame {
  if (data.length < 1) throw new ProtocolError('GATEWAY_BAD_BINARY_FRAME', 'empty binary frame');
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { op: buf[0], payload: buf.subarray(1) };
}

/** Encodes a server → client binary frame `[u16 BE seq][u8 op][payload]`. */
export function encodeServerBinaryFrame(seq: number, op: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(3 + payload.length);
  out.writeUInt16BE(seq & 0xffff, 0);
  out[2] = op & 0xff;
  out.set(payload, 3);
  return out;
}

/** Encodes a client → server binary frame `[u8 op][payload]`. */
export function encodeClientBinaryFrame(op: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(1 + payload.length);
  out[0] = op & 0xff;
  out.set(payload, 1);
  return out;
}
