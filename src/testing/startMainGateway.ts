import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Subject } from 'rxjs';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { GatewayCloseCodes, GatewayDispatchEvents, GatewayIntentBits, GatewayOpcodes } from 'discord-api-types/v10';
import type {
  MainGateway,
  MainGatewayChannel,
  MainGatewayEvent,
  MainGatewayGuild,
  MainGatewayIdentify,
  MainGatewayOptions,
  MainGatewaySession,
  MainGatewayVoiceServer,
  MainGatewayVoiceStateRequest,
} from './MainGateway';
import { createRestApi, type RestApi } from './internal/mainGatewayRest';

/** Dispatches kept per session for RESUME replay. */
const REPLAY_LOG_SIZE = 1000;
const PRIVILEGED_INTENTS = GatewayIntentBits.GuildMembers | GatewayIntentBits.GuildPresences | GatewayIntentBits.MessageContent;
const KNOWN_INTENTS = Object.values(GatewayIntentBits)
  .filter((v): v is number => typeof v === 'number')
  .reduce((a, b) => a | b, 0);
/** Ops a client may send once identified (3 presence and 8 request members are accepted and ignored). */
const CLIENT_OPS = new Set<number>([
  GatewayOpcodes.Heartbeat,
  GatewayOpcodes.Identify,
  GatewayOpcodes.PresenceUpdate,
  GatewayOpcodes.VoiceStateUpdate,
  GatewayOpcodes.Resume,
  GatewayOpcodes.RequestGuildMembers,
]);
const CHANNEL_TYPES = { text: 0, voice: 2, stage: 13 } as const;

/** Closes a socket with a gateway close code (internal control flow). */
class CloseWith extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

interface VoiceStateRecord {
  userId: string;
  channelId: string;
  sessionId: string;
  selfMute: boolean;
  selfDeaf: boolean;
}

/** One gateway session (survives socket reconnects through RESUME). */
class Session {
  ws: WebSocket | null = null;
  seq = 0;
  readonly log: { s: number; data: string }[] = [];
  identifies = 1;
  resumes = 0;
  heartbeats = 0;
  ended = false;
  resumeTimer: NodeJS.Timeout | null = null;
  /** The bot's voice session per guild, while in a voice channel there: its token, channel and voice server. */
  readonly voice = new Map<string, { token: string; channelId: string; server: MainGatewayVoiceServer | null }>();

  constructor(
    readonly sessionId: string,
    readonly intents: number,
    readonly shard: [number, number],
  ) {}

  has(intent: number): boolean {
    return (this.intents & intent) === intent;
  }
}

interface SocketState {
  ws: WebSocket;
  session: Session | null;
  watchdog: NodeJS.Timeout | null;
  closedByServer: boolean;
}

/** The shard a guild belongs to: `(guild_id >> 22) % shard_count` (non-numeric ids: shard 0). */
function shardOf(guildId: string, count: number): number {
  if (count <= 1 || !/^\d+$/.test(guildId)) return 0;
  return Number((BigInt(guildId) >> 22n) % BigInt(count));
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Starts a local emulator of Discord's main gateway (API v10, JSON encoding, no
 * compression) — enough for a bot library such as `@discordjs/ws` to connect, and for a
 * voice client to join a channel of the voice emulator ({@link startVoiceServer}).
 *
 * - HELLO (op 10); IDENTIFY (op 2) checks the token (4004 otherwise), the intents (4013
 *   unknown bits, 4014 privileged ones not allowed) and the shard (4010); READY (op 0, with
 *   `s`, `user`, `session_id`, `resume_gateway_url`, `shard`, unavailable guilds), then one
 *   GUILD_CREATE per guild of the shard (GUILDS intent) with its channels, voice states and
 *   members (the bot and the users in voice; VOICE_STATE_UPDATE dispatches carry `member` too).
 * - Heartbeats (op 1 → op 11 ACK; 4009 when they stop), RESUME (op 6: replays the missed
 *   dispatches, then RESUMED; unknown session → op 9 `false`; a bad token → 4004).
 * - Op 4 VOICE_STATE_UPDATE: joining registers the bot's voice session (with the channel id)
 *   in the voice emulator, then dispatches VOICE_STATE_UPDATE (GUILD_VOICE_STATES intent) and
 *   VOICE_SERVER_UPDATE (token, guild, `endpoint` = the channel's voice emulator's). Moving
 *   to another channel first ends the voice session there with 4014 (as Discord does), then
 *   sends both updates; changing only self-mute / self-deaf sends VOICE_STATE_UPDATE; `channel_id:
 *   null` ends the voice session (4014) and dispatches VOICE_STATE_UPDATE with a null
 *   channel. `setVoiceState` with the bot's id does the same as a moderator would (drag,
 *   disconnect). Unknown guilds and channels that are not voice channels get no answer, as on Discord.
 * - Strict: 4001 unknown opcode, 4002 undecodable payload (also: a `compress` or non-JSON
 *   `encoding` query, which the emulator does not implement), 4003 payload before
 *   IDENTIFY, 4005 second IDENTIFY, 4007 RESUME with a sequence from the future, 4012 an API
 *   version other than 10.
 *
 * - With `rest: true`, a minimal REST API at `restUrl` (what discord.js needs: gateway
 *   info, `users/@me`, slash-command bulk overwrite, interaction callbacks and webhook
 *   edits / follow-ups), and `interact()` sends INTERACTION_CREATE for a registered slash
 *   command as a user would invoke it; the answers are recorded (`interactionResponses()`).
 *
 * What clients sent is reported (`identifies()` without tokens, `voiceStateRequests()`,
 * `events$`) for tests.
 *
 * @example
 * ```ts
 * const voice = await startVoiceServer();
 * const gateway = await startMainGateway({ token: 'test-token', voiceServer: voice, guilds: [{ id: '1', channels: [{ id: '2' }] }] });
 * const manager = new WebSocketManager({ token: 'test-token', intents: GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates, rest });
 * // … with fetchGatewayInformation returning gateway.gatewayBotInfo() …
 * ```
 * Facts: Discord docs, "Gateway", "Gateway Events" and "Opcodes and Status Codes" → "Gateway".
 */
export async function startMainGateway(options: MainGatewayOptions): Promise<MainGateway> {
  const host = options.host ?? '127.0.0.1';
  const botUserId = options.botUserId ?? '100000000000000001';
  const botUsername = options.botUsername ?? 'rxvoice-bot';
  const heartbeatInterval = options.heartbeatIntervalMs ?? 41_250;
  const heartbeatTimeout = options.heartbeatTimeoutMs ?? 2 * heartbeatInterval + 1000;
  const resumeWindow = options.resumeWindowMs ?? 60_000;
  const allowedPrivileged = options.allowedPrivilegedIntents ?? 0;
  const expectedToken = options.token.replace(/^Bot\s+/i, '');

  const events = new Subject<MainGatewayEvent>();
  const emit = (e: MainGatewayEvent): void => events.next(e);
  const identifies: MainGatewayIdentify[] = [];
  const voiceRequests: MainGatewayVoiceStateRequest[] = [];
  const sessions = new Map<string, Session>();
  const sockets = new Set<SocketState>();
  let ignoreHeartbeats = false;
  let closed = false;

  // Guild state: channels and voice states (user id → state), mutable.
  const guilds = new Map<string, { guild: MainGatewayGuild; voice: Map<string, VoiceStateRecord> }>();
  for (const g of options.guilds ?? []) {
    const voice = new Map<string, VoiceStateRecord>();
    for (const v of g.voiceStates ?? []) {
      voice.set(v.userId, {
        userId: v.userId,
        channelId: v.channelId,
        sessionId: v.sessionId ?? `session-${v.userId}`,
        selfMute: v.selfMute ?? false,
        selfDeaf: v.selfDeaf ?? false,
      });
    }
    guilds.set(g.id, { guild: g, voice });
  }
  const channelsOf = (g: MainGatewayGuild) => g.channels ?? [{ id: `voice-${g.id}`, type: 'voice' as const }];

  const botUser = { id: botUserId, username: botUsername, discriminator: '0', global_name: null, avatar: null, bot: true, verified: true, flags: 0 };
  let rest: RestApi | null = null;
  const server = http.createServer((req, res) => {
    if (rest && (req.url ?? '').startsWith('/api/')) return rest.handle(req, res);
    res.writeHead(426, { 'content-type': 'text/plain' }).end('rxvoice main-gateway emulator: WebSocket only\n');
  });
  const wss = new WebSocketServer({ server });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `ws://${host}:${port}`;

  // ---- sending --------------------------------------------------------------------------

  const sendRaw = (ws: WebSocket | null, data: string): void => {
    if (ws && ws.readyState === ws.OPEN) ws.send(data);
  };

  const sendDispatch = (session: Session, t: string, d: unknown): void => {
    const s = ++session.seq;
    const data = JSON.stringify({ op: GatewayOpcodes.Dispatch, t, s, d });
    session.log.push({ s, data });
    if (session.log.length > REPLAY_LOG_SIZE) session.log.shift();
    sendRaw(session.ws, data);
    emit({ type: 'dispatch', sessionId: session.sessionId, t, s });
  };

  const liveSessions = (): Session[] => [...sessions.values()].filter((s) => !s.ended);
  const sessionsOfGuild = (guildId: string): Session[] => liveSessions().filter((s) => shardOf(guildId, s.shard[1]) === s.shard[0]);

  const voiceStateData = (guildId: string, v: VoiceStateRecord | { userId: string; channelId: null; sessionId: string; selfMute: boolean; selfDeaf: boolean }) => ({
    guild_id: guildId,
    channel_id: v.channelId,
    user_id: v.userId,
    session_id: v.sessionId,
    deaf: false,
    mute: false,
    self_deaf: v.selfDeaf,
    self_mute: v.selfMute,
    self_video: false,
    suppress: false,
    request_to_speak_timestamp: null,
  });

  const profiles = new Map((options.users ?? []).map((u) => [u.id, u]));
  /** A guild member object (the bot's own, or another user's); what discord.js needs to cache the member. */
  const memberData = (userId: string) => ({
    user:
      userId === botUserId
        ? botUser
        : {
            id: userId,
            username: profiles.get(userId)?.username ?? `user-${userId}`,
            discriminator: '0',
            global_name: profiles.get(userId)?.globalName ?? null,
            avatar: null,
          },
    nick: profiles.get(userId)?.nick ?? null,
    avatar: null,
    roles: [],
    joined_at: new Date(0).toISOString(),
    premium_since: null,
    deaf: false,
    mute: false,
    flags: 0,
    pending: false,
    communication_disabled_until: null,
  });

  const broadcastVoiceState = (guildId: string, data: ReturnType<typeof voiceStateData>): number => {
    let n = 0;
    for (const s of sessionsOfGuild(guildId)) {
      if (!s.has(GatewayIntentBits.GuildVoiceStates)) continue;
      // Guild VOICE_STATE_UPDATE dispatches carry the member, as on Discord.
      sendDispatch(s, GatewayDispatchEvents.VoiceStateUpdate, { ...data, member: memberData(data.user_id) });
      n++;
    }
    return n;
  };

  const channelsData = (g: MainGatewayGuild) =>
    channelsOf(g).map((c, position) => ({
      id: c.id,
      guild_id: g.id,
      name: c.name ?? `channel-${c.id}`,
      type: CHANNEL_TYPES[c.type ?? 'voice'],
      position,
      ...(c.type === 'text' ? {} : { bitrate: 64_000, user_limit: 0, rtc_region: null }),
    }));

  const guildCreate = (g: MainGatewayGuild, voice: Map<string, VoiceStateRecord>) => ({
    id: g.id,
    name: g.name ?? `guild-${g.id}`,
    unavailable: false,
    owner_id: '0',
    large: false,
    member_count: 1 + voice.size,
    joined_at: new Date(0).toISOString(),
    channels: channelsData(g),
    voice_states: [...voice.values()].map((v) => {
      const { guild_id: _omit, ...rest } = voiceStateData(g.id, v);
      void _omit;
      return rest;
    }),
    // The bot's own member and the members in voice channels, as Discord sends them.
    members: [botUserId, ...[...voice.keys()].filter((id) => id !== botUserId)].map(memberData),
    roles: [],
    emojis: [],
    stickers: [],
    threads: [],
    presences: [],
    stage_instances: [],
    guild_scheduled_events: [],
    features: [],
  });

  // ---- receiving ------------------------------------------------------------------------

  const armWatchdog = (state: SocketState): void => {
    if (state.watchdog) clearTimeout(state.watchdog);
    state.watchdog = setTimeout(() => {
      closeSocket(state, GatewayCloseCodes.SessionTimedOut, 'heartbeat timeout');
    }, heartbeatTimeout);
    state.watchdog.unref();
  };

  const closeSocket = (state: SocketState, code: number, reason: string): void => {
    if (state.closedByServer) return;
    state.closedByServer = true;
    emit({ type: 'close', sessionId: state.session?.sessionId ?? null, code, reason, byServer: true });
    if (state.ws.readyState === state.ws.OPEN || state.ws.readyState === state.ws.CONNECTING) state.ws.close(code, reason);
  };

  const endSession = (session: Session): void => {
    if (session.ended) return;
    session.ended = true;
    if (session.resumeTimer) clearTimeout(session.resumeTimer);
    sessions.delete(session.sessionId);
    // The bot's voice states go with the session (Discord disconnects it from voice).
    for (const [guildId, v] of session.voice) {
      guilds.get(guildId)?.voice.delete(botUserId);
      v.server?.endSession(session.sessionId);
    }
    session.voice.clear();
  };

  const checkToken = (token: unknown): boolean => typeof token === 'string' && token.replace(/^Bot\s+/i, '') === expectedToken;

  const onIdentify = (state: SocketState, d: unknown): void => {
    if (state.session) throw new CloseWith(GatewayCloseCodes.AlreadyAuthenticated, 'already authenticated');
    if (!isRecord(d) || !isRecord(d.properties)) throw new CloseWith(GatewayCloseCodes.DecodeError, 'IDENTIFY needs token, intents and properties');
    const rawShard = d.shard;
    const shard: [number, number] | null =
      Array.isArray(rawShard) && rawShard.length === 2 && rawShard.every((n) => Number.isInteger(n)) ? [rawShard[0] as number, rawShard[1] as number] : null;
    const record: MainGatewayIdentify = {
      intents: typeof d.intents === 'number' ? d.intents : NaN,
      shard,
      properties: { ...d.properties },
      compress: d.compress === true,
      authenticated: checkToken(d.token),
    };
    identifies.push(record);
    if (!record.authenticated) {
      emit({ type: 'identify', identify: record, sessionId: null });
      throw new CloseWith(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    }
    if (!Number.isInteger(record.intents) || record.intents < 0 || (record.intents & ~KNOWN_INTENTS) !== 0) {
      throw new CloseWith(GatewayCloseCodes.InvalidIntents, 'Invalid intent(s).');
    }
    if ((record.intents & PRIVILEGED_INTENTS & ~allowedPrivileged) !== 0) {
      throw new CloseWith(GatewayCloseCodes.DisallowedIntents, 'Disallowed intent(s).');
    }
    if (rawShard !== undefined && (!shard || shard[1] < 1 || shard[0] < 0 || shard[0] >= shard[1])) {
      throw new CloseWith(GatewayCloseCodes.InvalidShard, 'Invalid shard.');
    }
    if (record.compress) throw new CloseWith(GatewayCloseCodes.DecodeError, 'the emulator does not implement payload compression');

    const session = new Session(randomBytes(16).toString('hex'), record.intents, shard ?? [0, 1]);
    sessions.set(session.sessionId, session);
    session.ws = state.ws;
    state.session = session;
    emit({ type: 'identify', identify: record, sessionId: session.sessionId });

    const own = [...guilds.values()].filter(({ guild }) => shardOf(guild.id, session.shard[1]) === session.shard[0]);
    sendDispatch(session, GatewayDispatchEvents.Ready, {
      v: 10,
      user: botUser,
      guilds: own.map(({ guild }) => ({ id: guild.id, unavailable: true })),
      session_id: session.sessionId,
      resume_gateway_url: url,
      shard: session.shard,
      application: { id: botUserId, flags: 0 },
    });
    if (session.has(GatewayIntentBits.Guilds)) {
      for (const { guild, voice } of own) sendDispatch(session, GatewayDispatchEvents.GuildCreate, guildCreate(guild, voice));
    }
  };

  const onResume = (state: SocketState, d: unknown): void => {
    if (state.session) throw new CloseWith(GatewayCloseCodes.AlreadyAuthenticated, 'already authenticated');
    if (!isRecord(d) || typeof d.session_id !== 'string' || !Number.isInteger(d.seq)) {
      throw new CloseWith(GatewayCloseCodes.DecodeError, 'RESUME needs token, session_id and seq');
    }
    if (!checkToken(d.token)) throw new CloseWith(GatewayCloseCodes.AuthenticationFailed, 'Authentication failed.');
    const seq = d.seq as number;
    const session = sessions.get(d.session_id);
    if (!session || session.ended) {
      emit({ type: 'resume', sessionId: d.session_id, seq, ok: false, replayed: 0 });
      sendRaw(state.ws, JSON.stringify({ op: GatewayOpcodes.InvalidSession, d: false }));
      return;
    }
    if (seq > session.seq) throw new CloseWith(GatewayCloseCodes.InvalidSeq, 'Invalid seq.');
    if (session.resumeTimer) clearTimeout(session.resumeTimer);
    session.resumeTimer = null;
    if (session.ws && session.ws !== state.ws) session.ws.close(GatewayCloseCodes.SessionTimedOut, 'resumed elsewhere');
    session.ws = state.ws;
    session.resumes++;
    state.session = session;
    const missed = session.log.filter((f) => f.s > seq);
    emit({ type: 'resume', sessionId: session.sessionId, seq, ok: true, replayed: missed.length });
    for (const f of missed) sendRaw(state.ws, f.data);
    sendDispatch(session, GatewayDispatchEvents.Resumed, null);
  };

  const onVoiceStateUpdate = (session: Session, d: unknown): void => {
    if (!isRecord(d) || typeof d.guild_id !== 'string' || !(d.channel_id === null || typeof d.channel_id === 'string')) {
      throw new CloseWith(GatewayCloseCodes.DecodeError, 'VOICE_STATE_UPDATE needs guild_id and channel_id');
    }
    const request: MainGatewayVoiceStateRequest = {
      guild_id: d.guild_id,
      channel_id: d.channel_id,
      self_mute: d.self_mute === true,
      self_deaf: d.self_deaf === true,
    };
    voiceRequests.push(request);
    const reject = (reason: string): void => emit({ type: 'voice-state-request', sessionId: session.sessionId, request, accepted: false, reason });
    const g = guilds.get(request.guild_id);
    if (!g || shardOf(request.guild_id, session.shard[1]) !== session.shard[0]) return reject('unknown guild (or not on this shard)');
    const guildId = request.guild_id;
    const channel = request.channel_id === null ? null : (channelsOf(g.guild).find((c) => c.id === request.channel_id) ?? null);
    if (request.channel_id !== null && (!channel || (channel.type ?? 'voice') === 'text')) return reject('unknown channel, or not a voice channel');
    emit({ type: 'voice-state-request', sessionId: session.sessionId, request, accepted: true });
    placeBot(session, guildId, channel, request.self_mute, request.self_deaf);
  };

  /**
   * Puts the bot (of `session`) into `channel` of the guild, or out of voice (null), as Discord
   * does on op 4 and when a moderator moves or disconnects the bot:
   * - out of voice: the voice server ends the voice session (4014), then VOICE_STATE_UPDATE
   *   with a null channel;
   * - a first join, or a move to another channel: the old voice session ends (4014), then
   *   VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE with a new token and the endpoint of the
   *   channel's voice server;
   * - the same channel with other self-mute / self-deaf flags: VOICE_STATE_UPDATE only;
   * - the same channel again (a rejoin): both updates, with a new token.
   */
  const placeBot = (session: Session, guildId: string, channel: MainGatewayChannel | null, selfMute: boolean, selfDeaf: boolean): void => {
    const g = guilds.get(guildId)!;
    const current = session.voice.get(guildId);
    const previous = g.voice.get(botUserId);
    if (!channel) {
      g.voice.delete(botUserId);
      session.voice.delete(guildId);
      current?.server?.endSession(session.sessionId);
      broadcastVoiceState(guildId, voiceStateData(guildId, { userId: botUserId, channelId: null, sessionId: session.sessionId, selfMute, selfDeaf }));
      return;
    }
    const record: VoiceStateRecord = { userId: botUserId, channelId: channel.id, sessionId: session.sessionId, selfMute, selfDeaf };
    g.voice.set(botUserId, record);
    const flagsOnly = current?.channelId === channel.id && previous !== undefined && (previous.selfMute !== selfMute || previous.selfDeaf !== selfDeaf);
    if (flagsOnly) {
      broadcastVoiceState(guildId, voiceStateData(guildId, record));
      return;
    }
    if (current && current.channelId !== channel.id) current.server?.endSession(session.sessionId);
    const server = channel.voiceServer ?? options.voiceServer ?? null;
    const token = randomBytes(16).toString('hex');
    session.voice.set(guildId, { token, channelId: channel.id, server });
    // `channelId`: the voice emulator keeps channels apart and derives the DAVE group id from it.
    server?.registerSession({ serverId: guildId, userId: botUserId, sessionId: session.sessionId, token, channelId: channel.id });
    broadcastVoiceState(guildId, voiceStateData(guildId, record));
    sendDispatch(session, GatewayDispatchEvents.VoiceServerUpdate, {
      token,
      guild_id: guildId,
      endpoint: channel.voiceServer ? channel.voiceServer.endpoint : (options.voiceEndpoint ?? options.voiceServer?.endpoint ?? null),
    });
  };

  const onMessage = (state: SocketState, raw: RawData, isBinary: boolean): void => {
    if (isBinary) throw new CloseWith(GatewayCloseCodes.DecodeError, 'the emulator speaks JSON (text frames) only');
    let msg: unknown;
    try {
      msg = JSON.parse(raw.toString());
    } catch {
      throw new CloseWith(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    }
    if (!isRecord(msg) || typeof msg.op !== 'number') throw new CloseWith(GatewayCloseCodes.DecodeError, 'Error while decoding payload.');
    const { op, d } = msg;
    if (!CLIENT_OPS.has(op)) throw new CloseWith(GatewayCloseCodes.UnknownOpcode, 'Unknown opcode.');
    const session = state.session;
    if (op === GatewayOpcodes.Heartbeat) {
      if (!(d === null || d === undefined || Number.isInteger(d))) throw new CloseWith(GatewayCloseCodes.DecodeError, 'heartbeat d must be a sequence or null');
      if (session) session.heartbeats++;
      emit({ type: 'heartbeat', seq: (d as number | null | undefined) ?? null, sessionId: session?.sessionId ?? null });
      armWatchdog(state);
      if (!ignoreHeartbeats) sendRaw(state.ws, JSON.stringify({ op: GatewayOpcodes.HeartbeatAck }));
      return;
    }
    if (op === GatewayOpcodes.Identify) return onIdentify(state, d);
    if (op === GatewayOpcodes.Resume) return onResume(state, d);
    if (!session) throw new CloseWith(GatewayCloseCodes.NotAuthenticated, 'Not authenticated.');
    emit({ type: 'client-message', sessionId: session.sessionId, op });
    if (op === GatewayOpcodes.VoiceStateUpdate) onVoiceStateUpdate(session, d);
  };

  wss.on('connection', (ws, req) => {
    const query = new URL(req.url ?? '/', 'ws://x').searchParams;
    const state: SocketState = { ws, session: null, watchdog: null, closedByServer: false };
    sockets.add(state);
    emit({ type: 'socket-open', remote: `${req.socket.remoteAddress}:${req.socket.remotePort}`, query: query.toString() });
    ws.on('close', (code, reason) => {
      sockets.delete(state);
      if (state.watchdog) clearTimeout(state.watchdog);
      const session = state.session;
      if (!state.closedByServer) emit({ type: 'close', sessionId: session?.sessionId ?? null, code, reason: reason.toString(), byServer: false });
      if (!session || session.ws !== ws) return;
      session.ws = null;
      // A client closing with 1000/1001 ends its session (Discord shows the bot offline);
      // anything else (e.g. @discordjs/ws's 4200) keeps it resumable for a while.
      if (code === 1000 || code === 1001 || closed) endSession(session);
      else {
        session.resumeTimer = setTimeout(() => endSession(session), resumeWindow);
        session.resumeTimer.unref();
      }
    });
    ws.on('message', (raw, isBinary) => {
      if (state.closedByServer) return;
      try {
        onMessage(state, raw, isBinary);
      } catch (err) {
        if (err instanceof CloseWith) closeSocket(state, err.code, err.reason);
        else closeSocket(state, GatewayCloseCodes.UnknownError, 'Unknown error.');
      }
    });
    const version = query.get('v');
    const encoding = query.get('encoding') ?? 'json';
    if (version !== null && version !== '10') return closeSocket(state, GatewayCloseCodes.InvalidAPIVersion, 'Invalid API version.');
    if (encoding !== 'json') return closeSocket(state, GatewayCloseCodes.DecodeError, 'the emulator implements encoding=json only');
    if (query.has('compress')) return closeSocket(state, GatewayCloseCodes.DecodeError, 'the emulator does not implement transport compression');
    sendRaw(ws, JSON.stringify({ op: GatewayOpcodes.Hello, d: { heartbeat_interval: heartbeatInterval } }));
    armWatchdog(state);
  });

  const gatewayBotInfo = () => ({
    url,
    shards: 1,
    session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 },
  });

  if (options.rest) {
    rest = createRestApi({
      token: expectedToken,
      botUser,
      profile: (userId) => profiles.get(userId),
      applicationId: botUserId,
      gatewayBotInfo,
      guild: (guildId) => {
        const g = guilds.get(guildId);
        if (!g) return undefined;
        return {
          channels: channelsData(g.guild),
          voiceState: (userId) => (g.voice.has(userId) ? { deaf: false, mute: false } : undefined),
        };
      },
      dispatchToGuild: (guildId, t, d) => {
        const targets = sessionsOfGuild(guildId);
        for (const s of targets) sendDispatch(s, t, d);
        return targets.length;
      },
      emit,
      responseTimeoutMs: options.interactionResponseTimeoutMs ?? 3000,
    });
  }
  const noRest = (): never => {
    throw new Error('startMainGateway: start it with `rest: true` for the REST API and interactions');
  };

  return {
    url,
    gatewayBotInfo,
    restUrl: rest ? `http://${host}:${port}/api` : null,
    restRequests: () => rest?.requests() ?? [],
    commands: (guildId) => rest?.commands(guildId) ?? [],
    interact: (interaction) => (rest ?? noRest()).interact(interaction),
    interactionResponses: (interactionId) => rest?.responses(interactionId) ?? [],
    events$: events.asObservable(),
    identifies: () => identifies.map((i) => ({ ...i, properties: { ...i.properties } })),
    voiceStateRequests: () => voiceRequests.map((r) => ({ ...r })),
    sessions: (): MainGatewaySession[] =>
      liveSessions().map((s) => ({
        sessionId: s.sessionId,
        intents: s.intents,
        shard: [s.shard[0], s.shard[1]],
        connected: s.ws !== null && s.ws.readyState === s.ws.OPEN,
        seq: s.seq,
        voiceChannels: Object.fromEntries([...guilds.entries()].map(([id, g]) => [id, g.voice.get(botUserId)?.channelId ?? null])),
        identifies: s.identifies,
        resumes: s.resumes,
        heartbeats: s.heartbeats,
      })),
    setVoiceState(guildId, userId, channelId) {
      const g = guilds.get(guildId);
      if (!g) throw new Error(`startMainGateway: unknown guild ${guildId}`);
      const holder = userId === botUserId ? liveSessions().find((s) => s.voice.has(guildId)) : undefined;
      if (holder) {
        // A moderator drags the bot to another channel, or disconnects it.
        const channel = channelId === null ? null : channelsOf(g.guild).find((c) => c.id === channelId && c.type !== 'text');
        if (channel === undefined) throw new Error(`startMainGateway: no voice channel ${channelId} in guild ${guildId}`);
        const flags = g.voice.get(botUserId);
        placeBot(holder, guildId, channel, flags?.selfMute ?? false, flags?.selfDeaf ?? false);
        return;
      }
      const previous = g.voice.get(userId);
      const sessionId = previous?.sessionId ?? (userId === botUserId ? (sessionsOfGuild(guildId)[0]?.sessionId ?? 'none') : `session-${userId}`);
      if (channelId === null) {
        g.voice.delete(userId);
        broadcastVoiceState(guildId, voiceStateData(guildId, { userId, channelId: null, sessionId, selfMute: false, selfDeaf: false }));
        return;
      }
      const record: VoiceStateRecord = { userId, channelId, sessionId, selfMute: previous?.selfMute ?? false, selfDeaf: previous?.selfDeaf ?? false };
      g.voice.set(userId, record);
      broadcastVoiceState(guildId, voiceStateData(guildId, record));
    },
    dispatch(t, d, sessionId) {
      const targets = sessionId ? liveSessions().filter((s) => s.sessionId === sessionId) : liveSessions();
      for (const s of targets) sendDispatch(s, t, d);
      return targets.length;
    },
    faults: {
      close(code, reason = 'closed by the test', sessionId) {
        for (const s of [...sockets]) if (!sessionId || s.session?.sessionId === sessionId) closeSocket(s, code, reason);
      },
      ignoreHeartbeats(ignore) {
        ignoreHeartbeats = ignore;
      },
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const s of [...sockets]) {
        if (s.watchdog) clearTimeout(s.watchdog);
        s.ws.terminate();
      }
      for (const s of [...sessions.values()]) endSession(s);
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // REST clients keep connections alive; they must not hold the close.
        server.closeAllConnections();
      });
      events.complete();
    },
  };
}
