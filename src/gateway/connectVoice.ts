import {
  asyncScheduler,
  BehaviorSubject,
  distinctUntilChanged,
  filter,
  map,
  type Observable,
  shareReplay,
  type SchedulerLike,
} from 'rxjs';
import { VoiceOpcode, type VoiceMessage } from '../protocol/opcodes';
import {
  createTransportCipher,
  hasAes256Gcm,
  SUPPORTED_ENCRYPTION_MODES,
  type EncryptionMode,
  type TransportCipher,
} from '../protocol/transportCrypto';
import { startConnectionMachine, type ConnectionDrivers } from './connectionMachine';
import { initialConnectionModel, type ConnectionConfig, type ConnectionModel } from './connectionReducer';
import { openGatewaySocket, type GatewayTlsOptions } from './GatewaySocket';
import { VoiceConnectionError } from './VoiceConnectionError';
import { waitForReady, type ReadyState } from './waitForReady';
import type { VoiceConnectionState } from './VoiceConnectionState';
import { openVoiceUdpSocket, type VoiceUdpSocket } from './VoiceUdpSocket';
import { VoiceReceiver, type ReceiveStats, type Speaker } from './VoiceReceiver';
import { DaveController, type DaveState } from './DaveController';
import { setTransportKey } from './internal/transportKey';
import { clientSet, speakingEvents } from './internal/messageViews';
import { voiceDriverThreads } from '../driver/configureVoiceDriver';
import { connectOnDriver } from '../driver/internal/DriverConnection';

/** A log line from a connection. Never contains the token or the secret key. */
export interface VoiceLogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  data?: Record<string, unknown>;
}

/** Options of {@link connectVoice}. */
export interface ConnectVoiceOptions {
  /**
   * The voice server: as Discord's VOICE_SERVER_UPDATE gives it (`host:port`, no scheme →
   * `wss://host:port/?v=8`), or a full `ws://` / `wss://` URL used as given (local emulators).
   */
  endpoint: string;
  /** Guild id (`server_id` in IDENTIFY). */
  serverId: string;
  userId: string;
  /** From VOICE_STATE_UPDATE. */
  sessionId: string;
  /** From VOICE_SERVER_UPDATE. */
  token: string;
  channelId: string;
  /** Encryption modes to accept, in order of preference. Default XChaCha20-Poly1305 (cheaper per packet here), then AES-256-GCM (if node:crypto has it). */
  modes?: readonly EncryptionMode[];
  /**
   * DAVE end-to-end encryption. Default true (`max_dave_protocol_version: 1`). Set false
   * only for servers that allow plain channels: Discord closes such clients with 4017.
   */
  dave?: boolean;
  /** Retry limits: attempts (default 8), total time (default 60000 ms), backoff (default 500 → 15000 ms). */
  reconnect?: { maxAttempts?: number; maxTimeMs?: number; baseDelayMs?: number; maxDelayMs?: number };
  /**
   * After close 4014 (Disconnected: Discord closes the voice session so when the bot is
   * moved to another channel or disconnected), wait up to this long, ms, in `reconnecting`
   * for `updateServer` (a move) or `destroy` before ending in `disconnected`. Default 0 (end
   * at once) for `connectVoice`; 5000 for the join functions, which follow the main gateway.
   */
  gatewayGraceMs?: number;
  /** TLS options for `wss://` (e.g. `{ ca: server.certificate }` for the emulator). */
  tls?: GatewayTlsOptions;
  /** Scheduler for heartbeats, backoff and keep-alives (tests). Default `asyncScheduler`. */
  scheduler?: SchedulerLike;
  /** Log hook. */
  logger?: (entry: VoiceLogEntry) => void;
  /** Replace the I/O (tests). */
  drivers?: Partial<ConnectionDrivers>;
}

/** An op 5 SPEAKING from the server: which user owns an SSRC, and their speaking flags. */
export interface SpeakingEvent {
  userId: string;
  ssrc: number;
  /** Bit field: 1 microphone, 2 soundshare, 4 priority; 0 = stopped. */
  speaking: number;
  /** Arrival, `performance.now()` ms: the time base of received packets' `receivedAt`. */
  receivedAt: number;
}

/** What the media plane needs from a ready connection (used by sinks and receivers). */
export interface VoiceTransport {
  readonly ssrc: number;
  readonly mode: EncryptionMode;
  /** Cipher for this session's key (the key itself is not exposed). */
  readonly cipher: TransportCipher;
  readonly udp: VoiceUdpSocket;
  /** End-to-end encryption of an Opus frame before RTP (DAVE; identity when DAVE is off; silence frames stay plain). */
  readonly e2ee: (opus: Buffer) => Buffer;
  /** `{ssrc, mode}`: no key material, no sockets. */
  toJSON(): { ssrc: number; mode: EncryptionMode };
}

/** A voice connection, from {@link connectVoice} or the join functions. */
export interface VoiceConnection {
  /** The guild (server) id. */
  readonly guildId: string;
  /** The voice channel the connection is in, or joining; follows moves (VOICE_STATE_UPDATE). */
  readonly channelId: string;
  /** The current state, replayed to new subscribers; completes after `destroyed`. */
  readonly state$: Observable<VoiceConnectionState>;
  /** The current state. */
  readonly state: VoiceConnectionState;
  /** Heartbeat round trip, ms, once per ACK. */
  readonly ping$: Observable<number>;
  /** Op 5 SPEAKING from other users (SSRC ↔ user id). */
  readonly speaking$: Observable<SpeakingEvent>;
  /** User ids in the channel (ops 11/13 and 5), replayed; resets with a new session. */
  readonly clients$: Observable<ReadonlySet<string>>;
  /** Every JSON gateway message from the server, for custom operators. */
  readonly messages$: Observable<VoiceMessage>;
  /** Media access while ready (null otherwise). */
  readonly transport: VoiceTransport | null;
  /**
   * Users sending audio: one {@link Speaker} per SSRC when its first packet arrives (SSRC →
   * user from op 5); a new subscriber first gets the speakers already sending. Each
   * `packets$` (hot) completes when the user leaves (op 13). Join with `selfDeaf: false`:
   * Discord sends no audio to a deafened client.
   */
  readonly speakers$: Observable<Speaker>;
  /** Receive counters (malformed, unknown SSRC, decrypt failures …). */
  receiveStats(): ReceiveStats;
  /** DAVE end-to-end encryption: status, protocol version, MLS epoch, voice privacy code (replayed). */
  readonly dave$: Observable<DaveState>;
  /** The 45-digit verification code for another member (compare it with theirs out of band). Rejects with `RxVoiceError` `DAVE_NOT_ACTIVE` when DAVE is not active, `INVALID_ARGUMENT` when `userId` is not a member of the call's DAVE group. */
  verificationCode(userId: string): Promise<string>;
  /** Resolves with the `ready` state; rejects with the `VoiceConnectionError` if it ends in `disconnected` or `destroyed` first. */
  ready(timeoutMs?: number): Promise<ReadyState>;
  /** Sends op 5 SPEAKING with these flags (true = microphone, false = 0) now, and again after each new session. */
  setSpeaking(flags: number | boolean): void;
  /** Feeds a VOICE_SERVER_UPDATE (new endpoint/token → connect there). `null` endpoint: wait for the next. */
  updateServer(update: { endpoint: string | null; token: string }): void;
  /** Feeds a VOICE_STATE_UPDATE (new session id → re-identify; the channel id is tracked and used by the next session's DAVE group). */
  updateSession(update: { sessionId: string; channelId: string }): void;
  /**
   * From `disconnected`, start over: `connectVoice` reconnects with what it has; a joined
   * connection sends op 4 again and follows the answer.
   */
  rejoin(): void;
  /**
   * Closes everything (WebSocket with 1000, UDP socket); a joined connection also leaves the
   * channel (op 4 without a channel) and is removed from `getVoiceConnection`. Ends in
   * `destroyed` with reason `destroy-called`. Idempotent.
   */
  destroy(): void;
}

/** Turns an endpoint as Discord sends it into the gateway URL (v8). */
export function voiceGatewayUrl(endpoint: string): string {
  if (/^wss?:\/\//i.test(endpoint)) return endpoint;
  const host = endpoint.replace(/\/+$/, '');
  return `wss://${host}/?v=8`;
}

/**
 * Checks an endpoint before anything connects: a non-empty `host[:port]` or `ws://` / `wss://`
 * URL that parses, with a host and a port in 1–65535.
 * @throws {VoiceConnectionError} `BAD_OPTIONS` naming the endpoint.
 */
export function checkEndpoint(endpoint: unknown): void {
  const bad = (why: string): VoiceConnectionError =>
    new VoiceConnectionError('BAD_OPTIONS', `connectVoice: "endpoint" ${why}, got ${JSON.stringify(endpoint)}`);
  if (typeof endpoint !== 'string' || endpoint.trim() === '') throw bad('must be a non-empty string (host:port as VOICE_SERVER_UPDATE gives it, or a ws:// / wss:// URL)');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) && !/^wss?:\/\//i.test(endpoint)) throw bad('must be host:port or a ws:// / wss:// URL');
  let url: URL;
  try {
    url = new URL(voiceGatewayUrl(endpoint));
  } catch {
    throw bad('is not a valid host:port or URL');
  }
  if (url.hostname === '') throw bad('has no host');
}

function check(value: string, name: string): void {
  if (typeof value !== 'string' || value.length === 0) {
    throw new VoiceConnectionError('BAD_OPTIONS', `connectVoice: "${name}" must be a non-empty string`);
  }
}

/** The public view of the model (no secrets). */
function publicState(m: ConnectionModel): VoiceConnectionState {
  return m.state;
}

/**
 * Connects to a Discord voice server and keeps the connection alive: heartbeats with
 * `seq_ack`, resume on 4015 / network loss / 3 missed ACKs, re-identify on 4006/4009,
 * bounded exponential backoff with jitter, and a typed {@link VoiceConnectionError} in the
 * `disconnected` state on final close codes (4004, 4014, 4017, 4021, 4022…).
 *
 * The connection is a pure reducer (`reduceConnection`) plus effects keyed on its model
 * (`startConnectionMachine`). It runs on a driver thread unless `configureVoiceDriver({
 * threads: 0 })`, a `scheduler` or `drivers` is given (see `configureVoiceDriver`); the
 * returned object is the same interface either way. Facts: Discord docs, "Voice Connections".
 *
 * @throws {VoiceConnectionError} `BAD_OPTIONS` for empty ids, an endpoint that is not
 *   `host[:port]` or a `ws://` / `wss://` URL, or when no mode is left.
 * @example
 * ```ts
 * const conn = connectVoice({ endpoint, serverId: guildId, userId, sessionId, token, channelId });
 * conn.state$.subscribe((s) => console.log(s.status));
 * await conn.ready();
 * ```
 */
export function connectVoice(options: ConnectVoiceOptions): VoiceConnection {
  if (!options.scheduler && !options.drivers && voiceDriverThreads() > 0) {
    for (const k of ['serverId', 'userId', 'sessionId', 'token', 'channelId'] as const) check(options[k], k);
    checkEndpoint(options.endpoint);
    return connectOnDriver(options, usableModes(options));
  }
  return connectVoiceInProcess(options);
}

/** The modes of `options` this Node can use (AES-256-GCM only where node:crypto has it). */
function usableModes(options: ConnectVoiceOptions): EncryptionMode[] {
  const modes = (options.modes ?? SUPPORTED_ENCRYPTION_MODES).filter((m) => m !== 'aead_aes256_gcm_rtpsize' || hasAes256Gcm());
  if (modes.length === 0) {
    throw new VoiceConnectionError('BAD_OPTIONS', 'connectVoice: no usable encryption mode (AES-256-GCM missing from node:crypto?)');
  }
  return modes;
}

/**
 * `connectVoice` on the calling thread (internal: the driver threads run this; with
 * `configureVoiceDriver({ threads: 0 })`, a `scheduler` or `drivers`, `connectVoice` is this).
 */
export function connectVoiceInProcess(options: ConnectVoiceOptions): VoiceConnection {
  for (const k of ['serverId', 'userId', 'sessionId', 'token', 'channelId'] as const) check(options[k], k);
  checkEndpoint(options.endpoint);
  const modes = usableModes(options);
  const scheduler = options.scheduler ?? asyncScheduler;
  const log = options.logger ?? (() => undefined);
  const r = options.reconnect ?? {};
  const endpoint = options.endpoint ?? '';
  const config: ConnectionConfig = {
    url: endpoint ? voiceGatewayUrl(endpoint) : '',
    endpoint,
    serverId: options.serverId,
    userId: options.userId,
    sessionId: options.sessionId,
    token: options.token,
    channelId: options.channelId,
    modes,
    maxDaveProtocolVersion: options.dave === false ? 0 : 1,
    maxAttempts: r.maxAttempts ?? 8,
    maxReconnectMs: r.maxTimeMs ?? 60_000,
    baseDelayMs: r.baseDelayMs ?? 500,
    maxDelayMs: r.maxDelayMs ?? 15_000,
    gatewayGraceMs: options.gatewayGraceMs ?? 0,
  };
  const drivers: ConnectionDrivers = {
    openSocket: options.drivers?.openSocket ?? ((url) => openGatewaySocket(url, options.tls)),
    openUdp: options.drivers?.openUdp ?? openVoiceUdpSocket,
    random: options.drivers?.random,
  };
  const machine = startConnectionMachine(initialConnectionModel(config), drivers, scheduler);

  const state$ = machine.model$.pipe(map(publicState), distinctUntilChanged(), shareReplay({ bufferSize: 1, refCount: false }));
  const stateSub = state$.subscribe((s) => {
    const { status } = s;
    const data: Record<string, unknown> = { ...s };
    if (s.status === 'disconnected') data.error = s.error.toJSON();
    log({ level: status === 'disconnected' ? 'error' : status === 'reconnecting' ? 'warn' : 'info', message: `state ${status}`, data });
  });
  const messages$ = machine.frames$.pipe(
    filter((e): e is Extract<typeof e, { type: 'message' }> => e.type === 'message'),
    map((e) => e.message),
  );
  const badFrames = machine.frames$.subscribe((e) => {
    if (e.type === 'bad-frame') log({ level: 'warn', message: `ignored a gateway frame: ${e.error.message}`, data: { code: e.error.code } });
  });
  const ping$ = machine.model$.pipe(
    map((m) => m.ping),
    distinctUntilChanged(),
    filter((p): p is NonNullable<typeof p> => p !== null),
    map((p) => p.rttMs),
  );
  const speaking$ = speakingEvents(messages$);
  const clients$ = clientSet(messages$);
  const clientsSub = clients$.subscribe();

  // DAVE: every gateway frame in arrival order (binary seq already counted by the reducer).
  const dave = new DaveController({
    userId: options.userId,
    send: (data) => machine.send(data),
    log: (message) => log({ level: 'warn', message }),
  });
  const daveFrames = machine.frames$.subscribe((e) => {
    if (e.type === 'message') {
      const m = e.message;
      if (m.op === VoiceOpcode.SessionDescription && config.maxDaveProtocolVersion > 0) {
        const v = (m.d as { dave_protocol_version?: unknown } | null)?.dave_protocol_version;
        dave.start(typeof v === 'number' ? v : 0, machine.model.config.channelId); // the group of the channel we are in now
      } else {
        dave.onMessage(m);
      }
    } else if (e.type === 'binary') {
      dave.onBinary(e.op, e.payload);
    }
  });

  // Transport for the media plane: one cipher per secret key.
  let transport: VoiceTransport | null = null;
  let transportKey: Uint8Array | null = null;
  const transport$ = new BehaviorSubject<VoiceTransport | null>(null);
  let speakingFlags: number | null = null;
  const transportSub = machine.model$.subscribe((m) => {
    if (m.state.status !== 'ready' || !m.secretKey || !m.mode || !m.session || !machine.udp) {
      if (m.state.status === 'destroyed' || m.state.status === 'disconnected' || m.state.status === 'connecting') {
        transport = null;
        transportKey = null;
        if (transport$.value) transport$.next(null);
      }
      return;
    }
    if (m.secretKey !== transportKey || transport?.udp !== machine.udp) {
      transportKey = m.secretKey;
      const { ssrc } = m.session;
      const mode = m.mode;
      transport = {
        ssrc,
        mode,
        cipher: createTransportCipher(mode, m.secretKey),
        udp: machine.udp,
        e2ee: (opus) => dave.encrypt(opus),
        toJSON: () => ({ ssrc, mode }),
      };
      setTransportKey(transport, m.secretKey);
      transport$.next(transport);
      if (speakingFlags !== null) sendSpeaking(speakingFlags);
    }
  });

  const sendSpeaking = (flags: number): void => {
    const s = machine.model.state;
    if (s.status !== 'ready') return;
    machine.send({ op: VoiceOpcode.Speaking, d: { speaking: flags, delay: 0, ssrc: s.ssrc } });
  };

  const receiver = new VoiceReceiver(messages$, transport$);
  receiver.decryptPayload = (payload, userId) => dave.decrypt(userId, payload);

  // Each IDENTIFY starts a new voice session: DAVE starts over (its group is per session and
  // channel); after a move, the old channel's speakers end.
  let sessionChannel = config.channelId;
  const sessions = machine.model$
    .pipe(filter((m) => m.outbox.some((msg) => msg.op === VoiceOpcode.Identify)))
    .subscribe((m) => {
      dave.reset();
      if (m.config.channelId !== sessionChannel) receiver.endSpeakers();
      sessionChannel = m.config.channelId;
    });

  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    machine.dispatch({ type: 'destroy', at: scheduler.now() });
    sessions.unsubscribe();
    receiver.dispose();
    daveFrames.unsubscribe();
    dave.dispose();
    transport$.complete();
    transportSub.unsubscribe();
    clientsSub.unsubscribe();
    badFrames.unsubscribe();
    stateSub.unsubscribe();
    machine.stop();
  };

  return {
    guildId: options.serverId,
    get channelId() {
      return machine.model.config.channelId;
    },
    state$,
    get state() {
      return publicState(machine.model);
    },
    ping$,
    speaking$,
    clients$,
    messages$,
    get transport() {
      return machine.model.state.status === 'ready' ? transport : null;
    },
    speakers$: receiver.speakers$,
    receiveStats: () => receiver.stats(),
    dave$: dave.state$,
    verificationCode: (userId) => dave.verificationCode(userId),
    ready: (timeoutMs = 30_000) => waitForReady(state$, timeoutMs, scheduler),
    setSpeaking(flags) {
      speakingFlags = typeof flags === 'boolean' ? (flags ? 1 : 0) : flags;
      sendSpeaking(speakingFlags);
    },
    updateServer({ endpoint: ep, token }) {
      machine.dispatch({
        type: 'server-update',
        url: ep ? voiceGatewayUrl(ep) : '',
        endpoint: ep ?? '',
        token,
        at: scheduler.now(),
      });
    },
    updateSession({ sessionId, channelId }) {
      machine.dispatch({ type: 'session-update', sessionId, channelId, at: scheduler.now() });
    },
    rejoin() {
      machine.dispatch({ type: 'rejoin', at: scheduler.now() });
    },
    destroy,
  };
}
