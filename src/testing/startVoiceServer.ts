import * as dgram from 'node:dgram';
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { OpusEncoder } from '@discordjs/opus';
import { Subject } from 'rxjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { ProtocolError } from '../errors';
import { VoiceCloseCode } from '../protocol/closeCodes';
import { encodeIpDiscovery, IP_DISCOVERY_REQUEST, isIpDiscovery, parseIpDiscovery } from '../protocol/ipDiscovery';
import {
  encodeServerBinaryFrame,
  parseClientBinaryFrame,
  parseVoiceMessage,
  VoiceOpcode,
  type VoiceMessage,
} from '../protocol/opcodes';
import { rtpHeaderSize, writeRtpHeader, RTP_HEADER_SIZE, type RtpHeader } from '../protocol/rtp';
import { createTransportCipher, type TransportCipher } from '../protocol/transportCrypto';
import { generateTone } from './audio/generateTone';
import { encodeWav } from './audio/wav';
import type { DaveCoordinator, DaveLink } from './internal/dave/DaveCoordinator';
import { isDaveProtocolFrame } from './internal/dave/protocolFrame';
import { selfSignedCertificate } from './internal/selfSignedCertificate';
import { StreamRecorder } from './internal/StreamRecorder';
import { UdpFaultInjector } from './internal/UdpFaultInjector';
import type {
  ReceivedStream,
  SpeakAsOptions,
  VoiceServer,
  VoiceServerClient,
  VoiceServerEvent,
  VoiceServerOptions,
  VoiceSessionCredentials,
  UdpFaults,
} from './VoiceServer';

const FRAME_BYTES = 3840;
const SILENCE_FRAME = Buffer.from([0xf8, 0xff, 0xfe]);
/**
 * speakAs: time between sending op 11/op 5 and the first RTP packet, ms. Clients (e.g.
 * @discordjs/voice) map an SSRC to a user only once op 5 arrived and drop earlier packets;
 * sent back to back, UDP overtook the WebSocket and the first 1–2 frames were lost.
 */
const SPEAKING_LEAD_MS = 100;
/** libopus encoder CTLs (opus_defines.h). */
const OPUS_SET_INBAND_FEC_REQUEST = 4012;
const OPUS_SET_PACKET_LOSS_PERC_REQUEST = 4014;
/** Server messages kept per session for RESUME replay. */
const REPLAY_LOG_SIZE = 1000;
/** Close codes after which the session can be resumed. */
const RESUMABLE_SERVER_CLOSES = new Set<number>([VoiceCloseCode.VoiceServerCrashed]);
/** Ops a client may send before IDENTIFY. */
const PRE_IDENTIFY_OPS = new Set<number>([VoiceOpcode.Identify, VoiceOpcode.Resume, VoiceOpcode.Heartbeat]);
/** JSON ops a client may send once identified. */
const CLIENT_JSON_OPS = new Set<number>([
  VoiceOpcode.Identify,
  VoiceOpcode.SelectProtocol,
  VoiceOpcode.Heartbeat,
  VoiceOpcode.Speaking,
  VoiceOpcode.Resume,
  VoiceOpcode.ClientFlags,
  VoiceOpcode.ClientPlatform,
  VoiceOpcode.DaveTransitionReady,
  VoiceOpcode.DaveMlsInvalidCommitWelcome,
]);
const CLIENT_BINARY_OPS = new Set<number>([VoiceOpcode.DaveMlsKeyPackage, VoiceOpcode.DaveMlsCommitWelcome]);

/** Closes a socket with a Discord close code (internal control flow). */
class CloseWith extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

interface SentFrame {
  seq: number;
  data: string | Buffer;
}

/** One voice session (survives socket reconnects through RESUME). */
class Session {
  ws: WebSocket | null = null;
  ssrc = randomInt(1, 0x7fffffff);
  mode: string | null = null;
  udp: { address: string; port: number } | null = null;
  cipher: TransportCipher | null = null;
  seq = 0;
  readonly log: SentFrame[] = [];
  lastSeqAck = -1;
  speaking = 0;
  identifies = 1;
  resumes = 0;
  heartbeats = 0;
  ended = false;
  readonly startedAt = performance.now();
  endedAt: number | null = null;
  /** The close code that ended it (null: it timed out unresumed, or the emulator closed). */
  endCode: number | null = null;
  resumeTimer: NodeJS.Timeout | null = null;
  /** Nonce counters of speakAs streams sent to this client, per speaking SSRC. */
  readonly outNonce = new Map<number, number>();
  /** This session as the DAVE layer sees it (`dave` servers). */
  daveLink: DaveLink | null = null;

  constructor(
    readonly creds: VoiceSessionCredentials,
    readonly daveVersion: number,
  ) {}

  nextSeq(): number {
    this.seq = (this.seq + 1) & 0xffff || 1;
    return this.seq;
  }

  remember(frame: SentFrame): void {
    this.log.push(frame);
    if (this.log.length > REPLAY_LOG_SIZE) this.log.shift();
  }
}

/** The channel a session is in: its registered `channelId`, else its `serverId` (DM calls). */
const channelOf = (creds: VoiceSessionCredentials): string => creds.channelId ?? creds.serverId;

/** Two sessions share a channel (and so media, op 11/13 and a DAVE group). */
const sameChannel = (a: VoiceSessionCredentials, b: VoiceSessionCredentials): boolean =>
  a.serverId === b.serverId && channelOf(a) === channelOf(b);

/** Per-socket state. */
interface SocketState {
  ws: WebSocket;
  tls: boolean;
  session: Session | null;
  watchdog: NodeJS.Timeout | null;
}

/**
 * Starts a local emulator of Discord's voice server: the voice gateway v8 over WebSocket
 * (plain and TLS with a self-signed certificate), and the UDP media server.
 *
 * It is strict: protocol violations get Discord's close codes (4001 unknown opcode, 4002
 * undecodable payload, 4003 not authenticated, 4004 bad token, 4005 already
 * authenticated, 4006 unknown session on resume, 4009 heartbeat timeout, 4012 unknown
 * protocol, 4016 unknown encryption mode, 4017 DAVE required). It decrypts and decodes
 * what each client sends and reports it per SSRC (see {@link ReceivedStream}).
 *
 * @example
 * ```ts
 * const server = await startVoiceServer({ heartbeatIntervalMs: 1000 });
 * server.registerSession({ serverId: 'g1', userId: 'u1', sessionId: 's1', token: 't1' });
 * // … connect a client to server.wsUrl (or wss://server.endpoint) …
 * console.log(server.receivedFrom('u1')?.durationMs);
 * await server.close();
 * ```
 * Facts: Discord docs, "Voice Connections" and "Opcodes and Status Codes" → "Voice".
 */
export async function startVoiceServer(options: VoiceServerOptions = {}): Promise<VoiceServer> {
  const host = options.host ?? '127.0.0.1';
  // Offered in Discord's order (AES-GCM first); the client picks by its own preference.
  const modes = options.modes ?? ['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'];
  const heartbeatInterval = options.heartbeatIntervalMs ?? 13750;
  const heartbeatTimeout = options.heartbeatTimeoutMs ?? 2 * heartbeatInterval + 1000;
  const resumeWindow = options.resumeWindowMs ?? 60_000;
  const maxKeptFrames = Math.ceil((options.maxKeptAudioMs ?? 600_000) / 20);
  const decode = options.decode ?? true;
  const relay = options.relay ?? options.dave ?? false;

  const events = new Subject<VoiceServerEvent>();
  const emit = (e: VoiceServerEvent): void => events.next(e);
  const credentials = new Map<string, VoiceSessionCredentials>(); // by sessionId
  for (const c of options.sessions ?? []) credentials.set(c.sessionId, c);
  const sessions = new Map<string, Session>(); // by sessionId
  const sessionsBySsrc = new Map<number, Session>();
  /** Every session IDENTIFY started, in order (ended ones too). */
  const history: Session[] = [];
  const sockets = new Set<SocketState>();
  const recorders = new Map<number, StreamRecorder>();
  const inFaults = new UdpFaultInjector('in');
  const outFaults = new UdpFaultInjector('out');
  const speakTimers = new Set<NodeJS.Timeout>();
  let ignoreHeartbeats = false;
  let closed = false;
  const udpCounters = { badPackets: 0, unknownSsrc: 0, keepAlives: 0, ipDiscoveries: 0, relayed: 0 };
  // DAVE: ts-mls (ESM, heavy) is loaded only when asked for.
  const dave: DaveCoordinator | null = options.dave
    ? await (
        await import('./internal/dave/DaveCoordinator')
      ).DaveCoordinator.create({ transitionTimeoutMs: options.daveTransitionTimeoutMs ?? 2000, emit: (e) => emit(e) })
    : null;

  // ---- gateway: sending -----------------------------------------------------------------

  const sendRaw = (ws: WebSocket | null, data: string | Buffer): void => {
    if (ws && ws.readyState === ws.OPEN) ws.send(data);
  };

  /** Sends a message that carries `seq` (kept for RESUME replay). */
  const sendSeq = (session: Session, op: number, d: unknown): void => {
    const seq = session.nextSeq();
    const data = JSON.stringify({ op, d, seq });
    session.remember({ seq, data });
    sendRaw(session.ws, data);
  };

  /** Sends a binary DAVE frame `[u16 seq][u8 op][payload]` (kept for replay). */
  const sendBinary = (session: Session, op: number, payload: Uint8Array): void => {
    const seq = session.nextSeq();
    const data = encodeServerBinaryFrame(seq, op, payload);
    session.remember({ seq, data });
    sendRaw(session.ws, data);
  };

  const daveLinkFor = (session: Session): DaveLink => ({
    userId: session.creds.userId,
    serverId: session.creds.serverId,
    channelId: channelOf(session.creds),
    maxVersion: session.daveVersion,
    sendJson: (op, d) => sendSeq(session, op, d),
    sendBinary: (op, payload) => sendBinary(session, op, payload),
  });

  const channelPeers = (session: Session): Session[] =>
    [...sessions.values()].filter((s) => s !== session && !s.ended && sameChannel(s.creds, session.creds));

  const endSession = (session: Session, code: number | null = null): void => {
    if (session.ended) return;
    session.ended = true;
    session.endedAt = performance.now();
    session.endCode = code;
    if (session.resumeTimer) clearTimeout(session.resumeTimer);
    if (sessions.get(session.creds.sessionId) === session) sessions.delete(session.creds.sessionId);
    sessionsBySsrc.delete(session.ssrc);
    for (const peer of channelPeers(session)) {
      sendSeq(peer, VoiceOpcode.ClientDisconnect, { user_id: session.creds.userId });
    }
    if (dave && session.daveLink) dave.leave(session.daveLink);
    emit({ type: 'session-end', userId: session.creds.userId, sessionId: session.creds.sessionId, code });
  };

  const closeSocket = (state: SocketState, code: number, reason: string): void => {
    const { ws } = state;
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
    detach(state, code, reason, true);
  };

  /** The socket is gone: the session ends or waits for a RESUME. */
  const detach = (state: SocketState, code: number, reason: string, byServer: boolean): void => {
    if (!sockets.delete(state)) return;
    if (state.watchdog) clearTimeout(state.watchdog);
    const session = state.session;
    emit({ type: 'close', userId: session?.creds.userId ?? null, code, reason, byServer });
    if (!session || session.ws !== state.ws) return;
    session.ws = null;
    const resumable = byServer ? RESUMABLE_SERVER_CLOSES.has(code) : code !== 1000 && code !== 1001;
    if (!resumable) {
      endSession(session, code);
      return;
    }
    session.resumeTimer = setTimeout(() => endSession(session), resumeWindow);
  };

  const armWatchdog = (state: SocketState): void => {
    if (state.watchdog) clearTimeout(state.watchdog);
    state.watchdog = setTimeout(
      () => closeSocket(state, VoiceCloseCode.SessionTimeout, 'heartbeat timeout'),
      heartbeatTimeout,
    );
  };

  // ---- gateway: receiving ---------------------------------------------------------------

  const str = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
  const obj = (v: unknown): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null) throw new CloseWith(VoiceCloseCode.FailedToDecode, 'payload d is not an object');
    return v as Record<string, unknown>;
  };

  const onIdentify = (state: SocketState, d: Record<string, unknown>): void => {
    if (state.session) throw new CloseWith(VoiceCloseCode.AlreadyAuthenticated, 'already authenticated');
    const { server_id, user_id, session_id, token } = d;
    if (!str(server_id) || !str(user_id) || !str(session_id) || !str(token)) {
      throw new CloseWith(VoiceCloseCode.FailedToDecode, 'identify needs server_id, user_id, session_id and token');
    }
    const daveVersion = typeof d.max_dave_protocol_version === 'number' ? d.max_dave_protocol_version : 0;
    let creds = credentials.get(session_id);
    if (!creds && options.acceptAnySession) {
      creds = { serverId: server_id, userId: user_id, sessionId: session_id, token, ...(options.anySessionChannelId ? { channelId: options.anySessionChannelId } : {}) };
    }
    if (!creds || creds.token !== token || creds.userId !== user_id || creds.serverId !== server_id) {
      throw new CloseWith(VoiceCloseCode.AuthenticationFailed, 'authentication failed');
    }
    if (options.requireDave && daveVersion < 1) {
      throw new CloseWith(VoiceCloseCode.E2eeRequired, 'E2EE/DAVE protocol required');
    }
    const previous = sessions.get(session_id);
    if (previous) {
      if (previous.ws) closeSocket([...sockets].find((s) => s.ws === previous.ws)!, 4006, 'session replaced');
      endSession(previous);
    }
    const session = new Session(creds, daveVersion);
    while (sessionsBySsrc.has(session.ssrc)) session.ssrc = randomInt(1, 0x7fffffff);
    session.ws = state.ws;
    state.session = session;
    sessions.set(session_id, session);
    sessionsBySsrc.set(session.ssrc, session);
    history.push(session);
    emit({ type: 'identify', userId: user_id, serverId: server_id, channelId: channelOf(creds), sessionId: session_id, daveVersion });
    sendSeq(session, VoiceOpcode.Ready, {
      ssrc: session.ssrc,
      ip: host,
      port: udpPort,
      modes,
      heartbeat_interval: heartbeatInterval,
    });
    const peers = channelPeers(session);
    if (peers.length > 0) {
      sendSeq(session, VoiceOpcode.ClientsConnect, { user_ids: peers.map((p) => p.creds.userId) });
      for (const peer of peers) sendSeq(peer, VoiceOpcode.ClientsConnect, { user_ids: [user_id] });
      // Who is speaking already: a client that joins mid-stream learns their SSRCs (Discord
      // sends each user's op 5 once to a client that is in the channel with them).
      for (const peer of peers) {
        if (peer.speaking) sendSeq(session, VoiceOpcode.Speaking, { user_id: peer.creds.userId, ssrc: peer.ssrc, speaking: peer.speaking });
      }
    }
    if (dave) {
      // After op 11 went out both ways: proposals for this user can only follow it.
      session.daveLink = daveLinkFor(session);
      dave.join(session.daveLink);
    }
  };

  const onResume = (state: SocketState, d: Record<string, unknown>): void => {
    if (state.session) throw new CloseWith(VoiceCloseCode.AlreadyAuthenticated, 'already authenticated');
    const { server_id, session_id, token, seq_ack } = d;
    if (!str(server_id) || !str(session_id) || !str(token)) {
      throw new CloseWith(VoiceCloseCode.FailedToDecode, 'resume needs server_id, session_id and token');
    }
    const session = sessions.get(session_id);
    if (!session || session.ended || session.creds.serverId !== server_id) {
      throw new CloseWith(VoiceCloseCode.SessionNoLongerValid, 'session no longer valid');
    }
    if (session.creds.token !== token) throw new CloseWith(VoiceCloseCode.AuthenticationFailed, 'authentication failed');
    if (session.ws) {
      const old = [...sockets].find((s) => s.ws === session.ws);
      session.ws = null;
      if (old) {
        old.session = null;
        closeSocket(old, 4006, 'session resumed elsewhere');
      }
    }
    if (session.resumeTimer) clearTimeout(session.resumeTimer);
    session.resumeTimer = null;
    session.ws = state.ws;
    session.resumes++;
    state.session = session;
    const ack = typeof seq_ack === 'number' ? seq_ack : -1;
    session.lastSeqAck = ack;
    // Replay what the client has not acknowledged (u16 seq space, compare by distance).
    const missed = session.log.filter((f) => {
      const ahead = (f.seq - ack) & 0xffff;
      return ack < 0 || (ahead > 0 && ahead < 0x8000);
    });
    for (const f of missed) sendRaw(state.ws, f.data);
    sendRaw(state.ws, JSON.stringify({ op: VoiceOpcode.Resumed, d: null }));
    emit({ type: 'resume', userId: session.creds.userId, sessionId: session_id, seqAck: ack, replayed: missed.length });
  };

  const onSelectProtocol = (session: Session, d: Record<string, unknown>): void => {
    if (d.protocol !== 'udp') throw new CloseWith(VoiceCloseCode.UnknownProtocol, `unknown protocol ${String(d.protocol)}`);
    const data = obj(d.data);
    const { address, port, mode } = data;
    if (!str(address) || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535 || !str(mode)) {
      throw new CloseWith(VoiceCloseCode.FailedToDecode, 'select protocol needs data.address, data.port and data.mode');
    }
    if (!modes.includes(mode)) throw new CloseWith(VoiceCloseCode.UnknownEncryptionMode, `unknown encryption mode ${mode}`);
    const key = randomBytes(32);
    session.cipher = createTransportCipher(mode, key);
    session.mode = mode;
    session.udp = { address, port };
    emit({ type: 'select-protocol', userId: session.creds.userId, mode, address, port });
    const link = session.daveLink;
    sendSeq(session, VoiceOpcode.SessionDescription, {
      mode,
      secret_key: [...key],
      dave_protocol_version: dave && link ? dave.protocolFor(link) : 0,
    });
    if (dave && link) dave.described(link); // op 25 (and in-flight proposals) right after op 4
  };

  const onText = (state: SocketState, text: string): void => {
    let msg: VoiceMessage;
    try {
      msg = parseVoiceMessage(text);
    } catch {
      throw new CloseWith(VoiceCloseCode.FailedToDecode, 'failed to decode payload');
    }
    const session = state.session;
    emit({ type: 'client-message', userId: session?.creds.userId ?? null, op: msg.op });
    if (!CLIENT_JSON_OPS.has(msg.op)) throw new CloseWith(VoiceCloseCode.UnknownOpcode, `unknown opcode ${msg.op}`);
    if (!session && !PRE_IDENTIFY_OPS.has(msg.op)) throw new CloseWith(VoiceCloseCode.NotAuthenticated, 'not authenticated');
    switch (msg.op) {
      case VoiceOpcode.Identify:
        return onIdentify(state, obj(msg.d));
      case VoiceOpcode.Resume:
        return onResume(state, obj(msg.d));
      case VoiceOpcode.Heartbeat: {
        let t: unknown = msg.d;
        let seqAck: number | null = null;
        if (typeof msg.d === 'object' && msg.d !== null) {
          const d = msg.d as Record<string, unknown>;
          t = d.t;
          if (typeof d.seq_ack === 'number') seqAck = d.seq_ack;
        }
        if (typeof t !== 'number') throw new CloseWith(VoiceCloseCode.FailedToDecode, 'heartbeat needs a numeric t');
        if (session) {
          session.heartbeats++;
          if (seqAck !== null) session.lastSeqAck = seqAck;
        }
        emit({ type: 'heartbeat', userId: session?.creds.userId ?? null, seqAck });
        if (ignoreHeartbeats) return;
        armWatchdog(state);
        sendRaw(state.ws, JSON.stringify({ op: VoiceOpcode.HeartbeatAck, d: { t } }));
        return;
      }
      case VoiceOpcode.SelectProtocol:
        return onSelectProtocol(session!, obj(msg.d));
      case VoiceOpcode.Speaking: {
        const d = obj(msg.d);
        if (typeof d.speaking !== 'number') throw new CloseWith(VoiceCloseCode.FailedToDecode, 'speaking needs a numeric speaking');
        session!.speaking = d.speaking;
        emit({ type: 'speaking', userId: session!.creds.userId, flags: d.speaking });
        for (const peer of channelPeers(session!)) {
          sendSeq(peer, VoiceOpcode.Speaking, { user_id: session!.creds.userId, ssrc: session!.ssrc, speaking: d.speaking });
        }
        return;
      }
      case VoiceOpcode.DaveTransitionReady:
      case VoiceOpcode.DaveMlsInvalidCommitWelcome: {
        const d = obj(msg.d);
        if (typeof d.transition_id !== 'number') throw new CloseWith(VoiceCloseCode.FailedToDecode, 'needs a numeric transition_id');
        const link = session!.daveLink;
        if (!dave || !link) return;
        if (msg.op === VoiceOpcode.DaveTransitionReady) dave.transitionReady(link, d.transition_id);
        else dave.invalidCommitWelcome(link, d.transition_id);
        return;
      }
      default:
        return; // client flags / platform: accepted
    }
  };

  const onBinary = (state: SocketState, data: Buffer): void => {
    let frame;
    try {
      frame = parseClientBinaryFrame(data);
    } catch {
      throw new CloseWith(VoiceCloseCode.FailedToDecode, 'failed to decode binary payload');
    }
    const session = state.session;
    emit({ type: 'client-message', userId: session?.creds.userId ?? null, op: frame.op });
    if (!CLIENT_BINARY_OPS.has(frame.op)) throw new CloseWith(VoiceCloseCode.UnknownOpcode, `unknown binary opcode ${frame.op}`);
    if (!session) throw new CloseWith(VoiceCloseCode.NotAuthenticated, 'not authenticated');
    const link = session.daveLink;
    if (!dave || !link) return;
    const payload = Buffer.from(frame.payload); // handled asynchronously: copy
    if (frame.op === VoiceOpcode.DaveMlsKeyPackage) dave.keyPackage(link, payload);
    else if (frame.op === VoiceOpcode.DaveMlsCommitWelcome) dave.commitWelcome(link, payload);
  };

  const onConnection = (ws: WebSocket, tls: boolean, remote: string): void => {
    const state: SocketState = { ws, tls, session: null, watchdog: null };
    sockets.add(state);
    emit({ type: 'socket-open', tls, remote });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!sockets.has(state)) return;
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      try {
        if (isBinary) onBinary(state, buf);
        else onText(state, buf.toString('utf8'));
      } catch (err) {
        if (err instanceof CloseWith) closeSocket(state, err.code, err.reason);
        else closeSocket(state, VoiceCloseCode.FailedToDecode, err instanceof Error ? err.message : 'error');
      }
    });
    ws.on('close', (code: number, reason: Buffer) => detach(state, code, reason.toString(), false));
    ws.on('error', () => undefined);
    sendRaw(ws, JSON.stringify({ op: VoiceOpcode.Hello, d: { heartbeat_interval: heartbeatInterval } }));
    armWatchdog(state);
  };

  // ---- UDP ------------------------------------------------------------------------------

  const udp = dgram.createSocket({ type: 'udp4', recvBufferSize: options.udpReceiveBufferSize });
  udp.on('error', () => undefined);

  const recorderFor = (session: Session): StreamRecorder => {
    let rec = recorders.get(session.ssrc);
    if (!rec) {
      rec = new StreamRecorder(session.ssrc, session.creds.userId, channelOf(session.creds), session.mode ?? '', decode, maxKeptFrames);
      recorders.set(session.ssrc, rec);
      emit({ type: 'udp-stream-start', userId: session.creds.userId, ssrc: session.ssrc });
    }
    return rec;
  };

  const badPacket = (reason: string, bytes: number): void => {
    udpCounters.badPackets++;
    if (reason === 'unknown ssrc') udpCounters.unknownSsrc++;
    emit({ type: 'udp-bad-packet', reason, bytes });
  };

  const onDatagram = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (isIpDiscovery(msg)) {
      let req;
      try {
        req = parseIpDiscovery(msg);
      } catch {
        return badPacket('malformed ip discovery', msg.length);
      }
      if (req.type !== IP_DISCOVERY_REQUEST) return badPacket('ip discovery response sent to server', msg.length);
      if (!sessionsBySsrc.has(req.ssrc)) return badPacket('ip discovery for unknown ssrc', msg.length);
      udpCounters.ipDiscoveries++;
      emit({ type: 'udp-discovery', ssrc: req.ssrc, address: rinfo.address, port: rinfo.port });
      udp.send(encodeIpDiscovery({ type: 0x2, ssrc: req.ssrc, address: rinfo.address, port: rinfo.port }), rinfo.port, rinfo.address);
      return;
    }
    if (msg.length <= 8) {
      udpCounters.keepAlives++; // keep-alive: clients send a small datagram every ~5 s
      return;
    }
    if (options.onRtpDatagram?.(msg) === false) return;
    inFaults.apply(() => onRtp(msg), msg.length >= 12 ? msg.readUInt32BE(8) : 0);
  };

  /**
   * SFU: forwards a client's packet to the other clients of its channel with UDP set up —
   * same SSRC, sequence, timestamp, marker and payload type, payload untouched (an E2EE frame
   * stays opaque), sealed with each recipient's key and nonce counter. Like Discord's SFU, it
   * does not forward DAVE protocol frames to clients that identified without DAVE.
   */
  const relayRtp = (from: Session, h: RtpHeader, payload: Buffer): void => {
    let header: Buffer | null = null;
    let e2ee: boolean | null = null;
    for (const s of sessions.values()) {
      if (s === from || s.ended || !sameChannel(s.creds, from.creds) || !s.cipher || !s.udp) continue;
      if (s.daveVersion < 1 && (e2ee ??= isDaveProtocolFrame(payload))) continue;
      if (!header) {
        header = Buffer.alloc(RTP_HEADER_SIZE);
        writeRtpHeader(header, { sequence: h.sequence, timestamp: h.timestamp, ssrc: h.ssrc, marker: h.marker, payloadType: h.payloadType });
      }
      const nonce = ((s.outNonce.get(h.ssrc) ?? 0) + 1) >>> 0;
      s.outNonce.set(h.ssrc, nonce);
      const packet = s.cipher.seal(header, payload, nonce);
      const { address, port } = s.udp;
      udpCounters.relayed++;
      outFaults.apply(() => udp.send(packet, port, address), h.ssrc);
    }
  };

  const onRtp = (msg: Buffer): void => {
    if (msg.length < RTP_HEADER_SIZE || msg[0] >> 6 !== 2) return badPacket('not RTP', msg.length);
    const ssrc = msg.readUInt32BE(8);
    const session = sessionsBySsrc.get(ssrc);
    if (!session) return badPacket('unknown ssrc', msg.length);
    if (!session.cipher) return badPacket('RTP before session description', msg.length);
    const rec = recorderFor(session);
    let opened;
    try {
      rtpHeaderSize(msg);
      opened = session.cipher.open(msg);
    } catch (err) {
      rec.decryptFailures++;
      if (!(err instanceof ProtocolError)) throw err;
      return;
    }
    rec.record(opened.header, opened.payload);
    if (relay) relayRtp(session, opened.header, opened.payload);
  };

  udp.on('message', (msg, rinfo) => {
    try {
      onDatagram(msg, rinfo);
    } catch {
      badPacket('internal error', msg.length);
    }
  });

  // ---- speakAs --------------------------------------------------------------------------

  async function* opusFrames(source: SpeakAsOptions['source'], opus: SpeakAsOptions['opus']): AsyncGenerator<Uint8Array> {
    if ('opus' in source) {
      yield* source.opus as AsyncIterable<Uint8Array>;
      return;
    }
    const pcm = 'pcm' in source ? source.pcm : generateTone({ ...source.tone });
    const encoder = new OpusEncoder(48000, 2);
    if (opus?.fec) encoder.applyEncoderCTL(OPUS_SET_INBAND_FEC_REQUEST, 1);
    if (opus?.fec || opus?.packetLossPercent !== undefined) {
      encoder.applyEncoderCTL(OPUS_SET_PACKET_LOSS_PERC_REQUEST, opus?.packetLossPercent ?? 10);
    }
    for (let at = 0; at < pcm.length; at += FRAME_BYTES) {
      let frame = pcm.subarray(at, at + FRAME_BYTES);
      if (frame.length < FRAME_BYTES) {
        const padded = Buffer.alloc(FRAME_BYTES);
        frame.copy(padded);
        frame = padded;
      }
      yield encoder.encode(frame);
    }
  }

  const leadTime = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        speakTimers.delete(t);
        resolve();
      }, SPEAKING_LEAD_MS);
      speakTimers.add(t);
    });

  const speakAs = async (opts: SpeakAsOptions): Promise<void> => {
    const targets = (): Session[] =>
      [...sessions.values()].filter(
        (s) =>
          !s.ended &&
          s.creds.userId !== opts.userId &&
          (!opts.serverId || s.creds.serverId === opts.serverId) &&
          (!opts.channelId || channelOf(s.creds) === opts.channelId),
      );
    for (const s of targets()) {
      sendSeq(s, VoiceOpcode.ClientsConnect, { user_ids: [opts.userId] });
      sendSeq(s, VoiceOpcode.Speaking, { user_id: opts.userId, ssrc: opts.ssrc, speaking: 1, delay: 0 });
    }
    await leadTime();
    let sequence = randomInt(0, 0x10000);
    let timestamp = randomInt(0, 0x100000000);
    const header = Buffer.alloc(RTP_HEADER_SIZE);
    const sendFrame = (payload: Uint8Array): void => {
      writeRtpHeader(header, { sequence, timestamp, ssrc: opts.ssrc });
      for (const s of targets()) {
        if (!s.cipher || !s.udp) continue;
        const nonce = ((s.outNonce.get(opts.ssrc) ?? 0) + 1) >>> 0;
        s.outNonce.set(opts.ssrc, nonce);
        const packet = s.cipher.seal(header, payload, nonce);
        const { address, port } = s.udp;
        outFaults.apply(() => udp.send(packet, port, address), opts.ssrc);
      }
      sequence = (sequence + 1) & 0xffff;
      timestamp = (timestamp + 960) >>> 0;
    };
    const start = performance.now();
    let n = 0;
    const waitFor = (frameIndex: number): Promise<void> =>
      new Promise((resolve) => {
        const delay = start + frameIndex * 20 - performance.now();
        if (delay <= 0) return resolve();
        const t = setTimeout(() => {
          speakTimers.delete(t);
          resolve();
        }, delay);
        speakTimers.add(t);
      });
    const pauses = [...(opts.pauses ?? [])].sort((a, b) => a.atMs - b.atMs);
    let sourceFrames = 0;
    let offsetMs = 0; // time added by the pauses so far
    for await (const frame of opusFrames(opts.source, opts.opus)) {
      while (pauses.length > 0 && pauses[0].atMs <= sourceFrames * 20) {
        const pause = pauses.shift()!;
        const silent = Math.min(opts.silenceFrames ?? 5, Math.floor(pause.durationMs / 20));
        for (let i = 0; i < silent; i++) {
          if (closed) return;
          await waitFor(n + offsetMs / 20);
          sendFrame(SILENCE_FRAME);
          n++;
        }
        outFaults.flush(); // a packet held back for reordering goes out before the pause
        const quietMs = pause.durationMs - silent * 20;
        offsetMs += quietMs;
        if (pause.timestamp !== 'frozen') timestamp = (timestamp + Math.round(quietMs * 48)) >>> 0;
      }
      if (closed) return;
      await waitFor(n + offsetMs / 20);
      sendFrame(frame);
      n++;
      sourceFrames++;
    }
    for (let i = 0; i < (opts.silenceFrames ?? 5); i++) {
      if (closed) return;
      await waitFor(n + offsetMs / 20);
      sendFrame(SILENCE_FRAME);
      n++;
    }
    outFaults.flush();
    if (opts.leaveAfter) {
      // Let the last datagrams land before the user leaves (op 13 would otherwise overtake them).
      await leadTime();
      for (const s of targets()) sendSeq(s, VoiceOpcode.ClientDisconnect, { user_id: opts.userId });
    }
  };

  // ---- start listening ------------------------------------------------------------------

  const { cert, key } = options.tls ?? (await selfSignedCertificate());
  const httpServer = http.createServer((_req, res) => res.writeHead(426).end('voice gateway: connect with WebSocket'));
  const httpsServer = https.createServer({ cert, key }, (_req, res) => res.writeHead(426).end());
  const wss = new WebSocketServer({ server: httpServer });
  const wssTls = new WebSocketServer({ server: httpsServer });
  wss.on('connection', (ws, req) => onConnection(ws, false, `${req.socket.remoteAddress}:${req.socket.remotePort}`));
  wssTls.on('connection', (ws, req) => onConnection(ws, true, `${req.socket.remoteAddress}:${req.socket.remotePort}`));
  const listen = (server: http.Server | https.Server): Promise<number> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
    });
  const wsPort = await listen(httpServer);
  const wssPort = await listen(httpsServer);
  const udpPort = await new Promise<number>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(0, host, () => resolve(udp.address().port));
  });

  const hostInUrl = host.includes(':') ? `[${host}]` : host;

  /** Who a session is, where. */
  const identity = (s: Session) => ({
    userId: s.creds.userId,
    serverId: s.creds.serverId,
    channelId: channelOf(s.creds),
    sessionId: s.creds.sessionId,
    ssrc: s.ssrc,
    resumes: s.resumes,
  });

  const received = (): ReceivedStream[] => [...recorders.values()].map((r) => r.snapshot());

  const server: VoiceServer = {
    endpoint: `${hostInUrl}:${wssPort}`,
    wsUrl: `ws://${hostInUrl}:${wsPort}/?v=8`,
    wssUrl: `wss://${hostInUrl}:${wssPort}/?v=8`,
    udpPort,
    certificate: cert,
    tls: { cert, key },
    events$: events.asObservable(),
    registerSession: (c) => void credentials.set(c.sessionId, c),
    clients: (): VoiceServerClient[] =>
      [...sessions.values()].map((s) => ({
        ...identity(s),
        connected: s.ws !== null,
        mode: s.mode,
        udp: s.udp,
        daveProtocolVersion: s.daveVersion,
        lastSeqAck: s.lastSeqAck,
        speaking: s.speaking,
        identifies: s.identifies,
        heartbeats: s.heartbeats,
      })),
    sessionHistory: (userId) =>
      history
        .filter((s) => userId === undefined || s.creds.userId === userId)
        .map((s) => ({
          ...identity(s),
          startedAt: s.startedAt,
          endedAt: s.endedAt,
          endCode: s.endCode,
        })),
    endSession: (sessionId, code = VoiceCloseCode.Disconnected, reason = 'Disconnected.') => {
      credentials.delete(sessionId); // its token is no longer valid
      const session = sessions.get(sessionId);
      if (!session || session.ended) return false;
      const state = [...sockets].find((x) => x.ws === session.ws);
      if (state) closeSocket(state, code, reason);
      endSession(session, code); // not resumable, connected or not
      return true;
    },
    received,
    receivedFrom: (userId) => {
      const mine = [...recorders.values()].filter((r) => r.userId === userId);
      return mine.length ? mine[mine.length - 1].snapshot() : undefined;
    },
    resetReceived: () => recorders.clear(),
    udpStats: () => ({
      ...udpCounters,
      faults: {
        dropped: inFaults.dropped + outFaults.dropped,
        reordered: inFaults.reordered + outFaults.reordered,
        delayed: inFaults.delayed + outFaults.delayed,
      },
    }),
    dave: (serverId, channelId) => dave?.status(serverId, channelId),
    speakAs,
    sendUdp: (userId, datagram) => {
      for (const s of sessions.values()) {
        if (s.ended || s.creds.userId !== userId || !s.udp) continue;
        udp.send(datagram, s.udp.port, s.udp.address);
      }
    },
    sendRtp: (userId, packet) => {
      for (const s of sessions.values()) {
        if (s.ended || s.creds.userId !== userId || !s.udp || !s.cipher) continue;
        const h = Buffer.alloc(RTP_HEADER_SIZE);
        writeRtpHeader(h, { sequence: packet.sequence, timestamp: packet.timestamp, ssrc: packet.ssrc });
        const nonce = ((s.outNonce.get(packet.ssrc) ?? 0) + 1) >>> 0;
        s.outNonce.set(packet.ssrc, nonce);
        udp.send(s.cipher.seal(h, packet.payload, nonce), s.udp.port, s.udp.address);
      }
    },
    inject: (userId, data) => {
      const targets = [...sessions.values()].filter((s) => !s.ended && (userId === null || s.creds.userId === userId));
      for (const s of targets) {
        if (typeof data === 'string' || Buffer.isBuffer(data)) sendRaw(s.ws, data);
        else sendSeq(s, data.op, data.d);
      }
    },
    faults: {
      close: (userId, code, reason = 'closed by test') => {
        for (const state of [...sockets]) {
          if (userId === null || state.session?.creds.userId === userId) closeSocket(state, code, reason);
        }
      },
      udp: (f: UdpFaults | null) => {
        inFaults.set(f);
        outFaults.set(f);
      },
      ignoreHeartbeats: (ignore) => {
        ignoreHeartbeats = ignore;
      },
      corruptDaveWelcome: (userId, count = 1) => dave?.corruptWelcome(userId, count),
      forceDaveDowngrade: (serverId, downgrade, channelId) => dave?.forceDowngrade(serverId, downgrade, channelId),
    },
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of speakTimers) clearTimeout(t);
      for (const state of [...sockets]) closeSocket(state, 1001, 'server shutting down');
      for (const s of sessions.values()) if (s.resumeTimer) clearTimeout(s.resumeTimer);
      dave?.dispose();
      inFaults.dispose();
      outFaults.dispose();
      for (const ws of [...wss.clients, ...wssTls.clients]) ws.terminate();
      await Promise.all([
        new Promise<void>((r) => wss.close(() => r())),
        new Promise<void>((r) => wssTls.close(() => r())),
        new Promise<void>((r) => httpServer.close(() => r())),
        new Promise<void>((r) => httpsServer.close(() => r())),
        new Promise<void>((r) => udp.close(() => r())),
      ]);
      if (options.wavDir) {
        await mkdir(options.wavDir, { recursive: true });
        for (const r of received()) {
          await writeFile(path.join(options.wavDir, `${r.userId}-${r.ssrc}.wav`), encodeWav(r.pcm));
        }
      }
      events.complete();
    },
  };
  return server;
}
