import { describeCloseCode, VoiceCloseCode } from '../protocol/closeCodes';
import { VoiceOpcode, type VoiceMessage } from '../protocol/opcodes';
import { isEncryptionMode, type EncryptionMode } from '../protocol/transportCrypto';
import { VoiceConnectionError } from './VoiceConnectionError';
import type { UdpAddress, VoiceConnectionDestroyReason, VoiceConnectionState } from './VoiceConnectionState';

/**
 * The voice connection as a pure state machine: {@link reduceConnection} takes the model
 * and an event and returns the next model. Side effects (sockets, timers, UDP) are run by
 * `connectionMachine` from changes of the model: which socket should be open
 * (`socketId`), which UDP socket (`udpId`), the heartbeat interval, the retry timer, and
 * the `outbox` of gateway messages the transition produced.
 *
 * Protocol facts: Discord docs, "Voice Connections" (handshake, heartbeat with `seq_ack`,
 * resume) and "Opcodes and Status Codes" → "Voice Close Event Codes".
 */

/** What the machine needs to know to connect. Changes with server and session updates. */
export interface ConnectionConfig {
  /** WebSocket URL of the voice gateway (with `?v=8`), or '' while waiting for a server. */
  url: string;
  /** The endpoint as given (for state and logs). */
  endpoint: string;
  serverId: string;
  userId: string;
  sessionId: string;
  token: string;
  channelId: string;
  /** Modes this client can use, in order of preference. */
  modes: readonly EncryptionMode[];
  /** `max_dave_protocol_version` sent in IDENTIFY. */
  maxDaveProtocolVersion: number;
  /** Give up after this many consecutive failed attempts. */
  maxAttempts: number;
  /** Give up when failures have lasted this long, ms. */
  maxReconnectMs: number;
  /** Backoff: first delay and cap, ms (the timer adds jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * For connections that follow a main gateway (`joinVoiceChannel`): after close 4014
   * (Disconnected — Discord closes the voice session so when the bot is moved to another
   * channel, and when it is disconnected), wait this long, ms, for the main gateway's
   * VOICE_SERVER_UPDATE (a move: connect there) or VOICE_STATE_UPDATE without a channel
   * (destroyed) before giving up. 0 or absent: give up at once, as for any final close.
   */
  gatewayGraceMs?: number;
  /**
   * Lower bound on HELLO's `heartbeat_interval`, ms (default 100): a broken server's 0.5 ms
   * must not make the client flood it. Tests on virtual time set it lower.
   */
  minHeartbeatMs?: number;
}

/** Heartbeat ACKs missed before the connection is considered lost. */
export const MAX_MISSED_ACKS = 3;

/** Internal model of a connection. `state` is the public part. */
export interface ConnectionModel {
  readonly state: VoiceConnectionState;
  readonly config: ConnectionConfig;
  /** The socket that should be open (0 = none). Socket events from other ids are ignored. */
  readonly socketId: number;
  /** Last socket id handed out. */
  readonly socketCounter: number;
  /** The UDP socket generation that should exist (0 = none); kept across resume. */
  readonly udpId: number;
  readonly udpCounter: number;
  /** Last server `seq` seen (-1 before any): sent as `seq_ack`. */
  readonly seqAck: number;
  /** From HELLO; null until then. */
  readonly heartbeatIntervalMs: number | null;
  readonly missedAcks: number;
  /** Latest heartbeat round trip; a new object per ACK. */
  readonly ping: { rttMs: number; at: number } | null;
  /** From READY. */
  readonly session: { ssrc: number; server: UdpAddress; modes: string[] } | null;
  readonly local: UdpAddress | null;
  readonly mode: EncryptionMode | null;
  /** From SESSION_DESCRIPTION; never part of `state`. */
  readonly secretKey: Uint8Array | null;
  readonly daveProtocolVersion: number;
  /** Consecutive failed attempts. */
  readonly attempt: number;
  /** When the current run of failures started (scheduler ms), or null. */
  readonly failingSince: number | null;
  /** Gateway messages this transition produced, to send on the current socket. */
  readonly outbox: readonly VoiceMessage[];
  /** Close code for the socket being torn down by this transition. */
  readonly closeCode: number;
  /**
   * While `reconnecting` after a 4014 with `gatewayGraceMs`: the error to end in when the
   * grace runs out (the retry event) without a new voice server. Null otherwise.
   */
  readonly awaitingGateway: VoiceConnectionError | null;
}

/** Events the machine reacts to. `at` is the scheduler's `now()` in ms. */
export type ConnectionEvent =
  | { type: 'socket-open'; socketId: number; at: number }
  | { type: 'socket-message'; socketId: number; message: VoiceMessage; at: number }
  | { type: 'socket-binary'; socketId: number; seq: number; op: number; at: number }
  | { type: 'socket-close'; socketId: number; code: number; reason: string; at: number }
  | { type: 'heartbeat-tick'; socketId: number; at: number }
  | { type: 'udp-discovered'; udpId: number; local: UdpAddress; at: number }
  | { type: 'udp-failed'; udpId: number; error: Error; at: number }
  | { type: 'retry'; at: number }
  | { type: 'server-update'; url: string; endpoint: string; token: string; at: number }
  | { type: 'session-update'; sessionId: string; channelId: string; at: number }
  | { type: 'rejoin'; at: number }
  /** `reason` defaults to `destroy-called`. */
  | { type: 'destroy'; at: number; reason?: VoiceConnectionDestroyReason };

/** Statuses during which the WebSocket is wanted. */
const SOCKET_STATUSES = new Set<VoiceConnectionState['status']>([
  'connecting',
  'identifying',
  'discovering',
  'selecting-protocol',
  'ready',
  'resuming',
]);

/** Whether the model wants a WebSocket open. */
export function wantsSocket(model: ConnectionModel): boolean {
  return model.socketId !== 0 && SOCKET_STATUSES.has(model.state.status);
}

/** Everything a new session starts without (no READY, no key, no failures yet). */
const FRESH_SESSION = {
  seqAck: -1,
  heartbeatIntervalMs: null,
  missedAcks: 0,
  session: null,
  local: null,
  mode: null,
  secretKey: null,
  daveProtocolVersion: 0,
  attempt: 0,
  failingSince: null,
  outbox: [],
  awaitingGateway: null,
} as const satisfies Partial<ConnectionModel>;

/** The model before any event: `connecting` with socket 1. */
export function initialConnectionModel(config: ConnectionConfig): ConnectionModel {
  const waiting = config.url === '';
  return {
    state: { status: 'connecting', endpoint: config.endpoint, attempt: 0 },
    config,
    socketId: waiting ? 0 : 1,
    socketCounter: 1,
    udpId: waiting ? 0 : 1,
    udpCounter: 1,
    ping: null,
    closeCode: 1000,
    ...FRESH_SESSION,
  };
}

/** Picks the first of our preferred modes that the server offers. */
export function chooseEncryptionMode(preferred: readonly EncryptionMode[], offered: readonly string[]): EncryptionMode | null {
  return preferred.find((m) => offered.includes(m)) ?? null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The pure transition function. Never throws; unknown or malformed input leaves the model as it is. */
export function reduceConnection(prev: ConnectionModel, event: ConnectionEvent): ConnectionModel {
  const model: ConnectionModel = prev.outbox.length > 0 ? { ...prev, outbox: [] } : prev;
  const status = model.state.status;
  if (status === 'destroyed') return model;
  if (event.type === 'destroy') {
    return {
      ...model,
      state: { status: 'destroyed', reason: event.reason ?? 'destroy-called' },
      socketId: 0,
      udpId: 0,
      secretKey: null,
      closeCode: 1000,
      heartbeatIntervalMs: null,
      awaitingGateway: null,
    };
  }
  if ('socketId' in event && event.socketId !== model.socketId) return model;
  if ('udpId' in event && event.udpId !== model.udpId) return model;

  switch (event.type) {
    case 'socket-open':
      if (status === 'connecting') {
        return {
          ...model,
          state: { status: 'identifying', endpoint: model.config.endpoint, attempt: model.attempt },
          outbox: [identifyMessage(model.config)],
        };
      }
      if (status === 'resuming') {
        const { serverId, sessionId, token } = model.config;
        return {
          ...model,
          outbox: [{ op: VoiceOpcode.Resume, d: { server_id: serverId, session_id: sessionId, token, seq_ack: model.seqAck } }],
        };
      }
      return model;

    case 'socket-message':
      return onMessage(model, event.message, event.at);

    case 'socket-binary':
      // Binary (DAVE) frames carry a server seq that counts for seq_ack.
      return { ...model, seqAck: event.seq };

    case 'socket-close':
      return onClose(model, event.code, event.reason, event.at);

    case 'heartbeat-tick': {
      if (!wantsSocket(model) || model.heartbeatIntervalMs === null) return model;
      if (model.missedAcks >= MAX_MISSED_ACKS) {
        return reconnect(model, canResume(model) ? 'resume' : 'identify', `${MAX_MISSED_ACKS} heartbeat ACKs missed`, event.at, null);
      }
      return {
        ...model,
        missedAcks: model.missedAcks + 1,
        outbox: [{ op: VoiceOpcode.Heartbeat, d: { t: event.at, seq_ack: model.seqAck } }],
      };
    }

    case 'udp-discovered': {
      if (status !== 'discovering' || !model.session || !model.mode) return model;
      return {
        ...model,
        local: event.local,
        state: {
          status: 'selecting-protocol',
          endpoint: model.config.endpoint,
          ssrc: model.session.ssrc,
          server: model.session.server,
          local: event.local,
          mode: model.mode,
        },
        outbox: [
          {
            op: VoiceOpcode.SelectProtocol,
            d: { protocol: 'udp', data: { address: event.local.address, port: event.local.port, mode: model.mode } },
          },
        ],
      };
    }

    case 'udp-failed':
      if (status !== 'discovering') return model;
      // A new UDP socket with the retry: the old one may be what failed.
      return reconnect({ ...model, udpId: 0 }, 'identify', event.error.message, event.at, event.error);

    case 'retry': {
      if (model.state.status !== 'reconnecting') return model;
      if (model.awaitingGateway) return disconnect({ ...model, awaitingGateway: null }, model.awaitingGateway);
      const next = model.state.next;
      const socketId = model.socketCounter + 1;
      const udp = model.udpId === 0 ? { udpId: model.udpCounter + 1, udpCounter: model.udpCounter + 1 } : {};
      const endpoint = model.config.endpoint;
      return {
        ...model,
        ...udp,
        socketId,
        socketCounter: socketId,
        missedAcks: 0,
        heartbeatIntervalMs: null,
        state:
          next === 'resume'
            ? { status: 'resuming', endpoint, attempt: model.attempt }
            : { status: 'connecting', endpoint, attempt: model.attempt },
      };
    }

    case 'server-update': {
      // A new voice server (first one, region change, server move): start over there.
      const config = { ...model.config, url: event.url, endpoint: event.endpoint, token: event.token };
      return freshStart({ ...model, config, closeCode: 1000 }, event.url !== '');
    }

    case 'session-update': {
      const config = { ...model.config, channelId: event.channelId };
      if (event.sessionId === model.config.sessionId) return { ...model, config };
      return freshStart({ ...model, config: { ...config, sessionId: event.sessionId }, closeCode: 1000 }, model.config.url !== '');
    }

    case 'rejoin':
      if (status !== 'disconnected') return model;
      return freshStart(model, model.config.url !== '');
  }
}

function identifyMessage(config: ConnectionConfig): VoiceMessage {
  return {
    op: VoiceOpcode.Identify,
    d: {
      server_id: config.serverId,
      user_id: config.userId,
      session_id: config.sessionId,
      token: config.token,
      max_dave_protocol_version: config.maxDaveProtocolVersion,
    },
  };
}

/** Forget the session and connect from scratch (new socket; new UDP socket). */
function freshStart(model: ConnectionModel, connect: boolean): ConnectionModel {
  const socketId = connect ? model.socketCounter + 1 : 0;
  const udpId = connect ? model.udpCounter + 1 : 0;
  return {
    ...model,
    state: { status: 'connecting', endpoint: model.config.endpoint, attempt: 0 },
    socketId,
    socketCounter: Math.max(model.socketCounter, socketId),
    udpId,
    udpCounter: Math.max(model.udpCounter, udpId),
    ...FRESH_SESSION,
  };
}

/** A session can be resumed once it reached `ready` (the key and UDP socket stay valid). */
function canResume(model: ConnectionModel): boolean {
  return model.secretKey !== null && model.session !== null;
}

function reconnect(
  model: ConnectionModel,
  next: 'resume' | 'identify',
  reason: string,
  at: number,
  cause: Error | null,
): ConnectionModel {
  const attempt = model.attempt + 1;
  const failingSince = model.failingSince ?? at;
  const { maxAttempts, maxReconnectMs, baseDelayMs, maxDelayMs, endpoint } = model.config;
  if (attempt > maxAttempts || at - failingSince > maxReconnectMs) {
    const error = new VoiceConnectionError(
      'RECONNECT_FAILED',
      `voice connection failed ${attempt - 1} times in ${Math.round(at - failingSince)} ms; last: ${reason}`,
      { cause: cause ?? undefined },
    );
    return disconnect(model, error);
  }
  const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  const reset: Partial<ConnectionModel> =
    next === 'identify'
      ? { seqAck: -1, session: null, local: null, mode: null, secretKey: null, daveProtocolVersion: 0 }
      : {};
  return {
    ...model,
    ...reset,
    attempt,
    failingSince,
    socketId: 0,
    closeCode: 4000,
    heartbeatIntervalMs: null,
    missedAcks: 0,
    state: { status: 'reconnecting', endpoint, attempt, delayMs, next, reason },
  };
}

function disconnect(model: ConnectionModel, error: VoiceConnectionError): ConnectionModel {
  return {
    ...model,
    socketId: 0,
    udpId: 0,
    closeCode: 1000,
    heartbeatIntervalMs: null,
    secretKey: null,
    state: { status: 'disconnected', endpoint: model.config.endpoint, error },
  };
}

function onClose(model: ConnectionModel, code: number, reason: string, at: number): ConnectionModel {
  const status = model.state.status;
  if (!SOCKET_STATUSES.has(status)) return model;
  const info = describeCloseCode(code);
  const why = `closed with ${code} ${info.name}${reason ? ` (${reason})` : ''}`;
  const grace = model.config.gatewayGraceMs ?? 0;
  if (code === VoiceCloseCode.Disconnected && grace > 0) {
    // Moved or disconnected: the main gateway says which. The voice session is over either way.
    const error = new VoiceConnectionError('CLOSED', `voice gateway ${why}: ${info.description}; the main gateway neither moved nor ended the connection within ${grace} ms`, {
      closeCode: code,
    });
    return {
      ...model,
      ...FRESH_SESSION,
      attempt: model.attempt,
      socketId: 0,
      udpId: 0,
      closeCode: 1000,
      awaitingGateway: error,
      state: {
        status: 'reconnecting',
        endpoint: model.config.endpoint,
        attempt: model.attempt,
        delayMs: grace,
        next: 'identify',
        reason: `${why}: waiting for the main gateway (moved to another channel, or disconnected)`,
      },
    };
  }
  switch (info.action) {
    case 'give-up': {
      const hint =
        code === VoiceCloseCode.E2eeRequired
          ? model.config.maxDaveProtocolVersion < 1
            ? ' — this channel requires DAVE end-to-end encryption; do not set `dave: false`'
            : ' — this channel requires DAVE end-to-end encryption'
          : '';
      return disconnect(
        model,
        new VoiceConnectionError('CLOSED', `voice gateway ${why}: ${info.description}${hint}`, { closeCode: code }),
      );
    }
    case 'resume':
      return reconnect(model, canResume(model) ? 'resume' : 'identify', why, at, null);
    case 'reidentify':
      return reconnect(model, 'identify', why, at, null);
  }
}

/** `ready` from a model that has its session, local address and mode; failures are forgotten. */
function becomeReady(m: ConnectionModel): ConnectionModel {
  if (!m.session || !m.local || !m.mode) return m;
  return {
    ...m,
    attempt: 0,
    failingSince: null,
    state: {
      status: 'ready',
      endpoint: m.config.endpoint,
      ssrc: m.session.ssrc,
      server: m.session.server,
      local: m.local,
      mode: m.mode,
      daveProtocolVersion: m.daveProtocolVersion,
    },
  };
}

/** Bounds on HELLO's `heartbeat_interval`, ms (see onMessage). */
const MIN_HEARTBEAT_MS = 100;
const MAX_HEARTBEAT_MS = 60_000;

function onMessage(model: ConnectionModel, msg: VoiceMessage, at: number): ConnectionModel {
  let m = model;
  if (typeof msg.seq === 'number') m = { ...m, seqAck: msg.seq };
  const d = msg.d;
  const endpoint = m.config.endpoint;
  switch (msg.op) {
    case VoiceOpcode.Hello: {
      if (!isObj(d) || typeof d.heartbeat_interval !== 'number' || !(d.heartbeat_interval > 0)) return m;
      // Discord sends ~13.75 s. An extreme value from a broken server must neither flood it
      // (≤ 1 ms; above 2^31 - 1 ms Node's timers fire after 1 ms) nor let the session time out.
      const interval = Math.min(MAX_HEARTBEAT_MS, Math.max(m.config.minHeartbeatMs ?? MIN_HEARTBEAT_MS, d.heartbeat_interval));
      return { ...m, heartbeatIntervalMs: interval, missedAcks: 0 };
    }
    case VoiceOpcode.HeartbeatAck: {
      const t = isObj(d) ? d.t : d;
      return { ...m, missedAcks: 0, ping: typeof t === 'number' ? { rttMs: Math.max(0, at - t), at } : m.ping };
    }
    case VoiceOpcode.Ready: {
      if (m.state.status !== 'identifying') return m;
      if (
        !isObj(d) ||
        typeof d.ssrc !== 'number' ||
        typeof d.ip !== 'string' ||
        typeof d.port !== 'number' ||
        !Array.isArray(d.modes)
      ) {
        return reconnect(m, 'identify', 'malformed READY', at, null);
      }
      const modes = d.modes.filter((x): x is string => typeof x === 'string');
      const mode = chooseEncryptionMode(m.config.modes, modes);
      if (!mode) {
        return disconnect(
          m,
          new VoiceConnectionError(
            'NO_SUPPORTED_MODE',
            `the voice server offers [${modes.join(', ')}]; rxvoice can use [${m.config.modes.join(', ')}]`,
          ),
        );
      }
      const server = { address: d.ip, port: d.port };
      return {
        ...m,
        session: { ssrc: d.ssrc, server, modes },
        mode,
        state: { status: 'discovering', endpoint, ssrc: d.ssrc, server },
      };
    }
    case VoiceOpcode.SessionDescription: {
      if (!isObj(d) || !m.session || !m.local) return m;
      const key = d.secret_key;
      if (
        !Array.isArray(key) ||
        key.length !== 32 ||
        !key.every((b) => typeof b === 'number' && b >= 0 && b <= 255) ||
        typeof d.mode !== 'string' ||
        !isEncryptionMode(d.mode)
      ) {
        return reconnect(m, 'identify', 'malformed SESSION_DESCRIPTION', at, null);
      }
      const dave = typeof d.dave_protocol_version === 'number' ? d.dave_protocol_version : 0;
      return becomeReady({ ...m, mode: d.mode, secretKey: Uint8Array.from(key as number[]), daveProtocolVersion: dave });
    }
    case VoiceOpcode.Resumed: {
      if (m.state.status !== 'resuming' || !m.session || !m.local || !m.mode) return m;
      return becomeReady(m);
    }
    default:
      return m;
  }
}
