import {
  BehaviorSubject,
  distinctUntilChanged,
  EMPTY,
  filter,
  merge,
  of,
  shareReplay,
  Subscription,
  switchMap,
  type Observable,
} from 'rxjs';
import { RxVoiceError } from '../errors';
import { waitForReady } from './waitForReady';
import { propertyReader } from '../core/propertyReader';
import { connectVoice, type ConnectVoiceOptions, type VoiceConnection, type VoiceTransport } from './connectVoice';
import { VoiceConnectionError } from './VoiceConnectionError';
import type { VoiceConnectionDestroyReason, VoiceConnectionState } from './VoiceConnectionState';
import { DEFAULT_GROUP, findTracked, track, untrack, type RejoinRequest, type TrackedConnection } from './voiceConnectionRegistry';
import { voiceDriverThreads } from '../driver/configureVoiceDriver';
import { remoteTargetOf, setRemoteTarget } from '../driver/internal/remoteTarget';

/** The `d` of a main-gateway VOICE_STATE_UPDATE dispatch (the fields rxvoice reads). */
export interface VoiceStateUpdateData {
  guild_id?: string | null;
  channel_id: string | null;
  user_id: string;
  session_id: string;
  self_mute?: boolean;
  self_deaf?: boolean;
}

/** The `d` of a main-gateway VOICE_SERVER_UPDATE dispatch. */
export interface VoiceServerUpdateData {
  guild_id: string;
  token: string;
  /** `null` while Discord allocates a new voice server: wait for the next update. */
  endpoint: string | null;
}

/** The main-gateway op 4 VOICE_STATE_UPDATE payload that joins, moves or leaves. */
export interface VoiceStateUpdatePayload {
  op: 4;
  d: { guild_id: string; channel_id: string | null; self_mute: boolean; self_deaf: boolean };
}

/** How long a connection waits, after close 4014, for the main gateway to move or end it (ms). */
export const DEFAULT_GATEWAY_GRACE_MS = 5000;

/** Options shared by both join functions. */
export interface JoinOptions extends Omit<ConnectVoiceOptions, 'endpoint' | 'serverId' | 'userId' | 'sessionId' | 'token' | 'channelId'> {
  guildId: string;
  channelId: string;
  /** Default false. */
  selfMute?: boolean;
  /**
   * Default true, as Discord clients do. A deafened bot receives no audio: set `false` to
   * listen (`speakers$`).
   */
  selfDeaf?: boolean;
  /** The bot's user id; if given, voice state updates of other users are ignored. */
  userId?: string;
  /**
   * One connection per guild and group (as @discordjs/voice): joining a guild that has a
   * live connection in the group returns that connection. Use one group per bot when one
   * process runs several. Default `'default'`.
   */
  group?: string;
}

/** Any Discord main-gateway library, as observables plus a send function. */
export interface MainGatewayLink {
  /** VOICE_STATE_UPDATE dispatches (`d`); others' are ignored if `userId` is given, other guilds' always. */
  voiceStateUpdates$: Observable<VoiceStateUpdateData>;
  /** VOICE_SERVER_UPDATE dispatches (`d`); other guilds' are ignored. */
  voiceServerUpdates$: Observable<VoiceServerUpdateData>;
  /** Sends a payload on the main gateway; `false` if it certainly failed. */
  send(payload: VoiceStateUpdatePayload): boolean;
  /** Emits when the link can no longer be used (e.g. the shard is gone): the connection ends in `destroyed` with reason `adapter-gone`. */
  gone$?: Observable<unknown>;
  /** Called once when the connection is destroyed (release the link). */
  release?(): void;
}

/** The request a join's options make (defaults applied). */
export function rejoinRequest(options: JoinOptions): RejoinRequest {
  return { channelId: options.channelId, selfMute: options.selfMute ?? false, selfDeaf: options.selfDeaf ?? true };
}

/**
 * Joins a voice channel through any main-gateway library: sends op 4 VOICE_STATE_UPDATE,
 * pairs VOICE_STATE_UPDATE (session id, user id) with VOICE_SERVER_UPDATE (token,
 * endpoint) in either order, then connects with {@link connectVoice}. Afterwards:
 * a `null` endpoint waits; a new endpoint or token reconnects there (a channel move: the
 * new channel's DAVE group); a new session id re-identifies; `channel_id: null` (a moderator
 * disconnected the bot, or it left) ends in `destroyed` with reason `disconnected-by-server`.
 * After close 4014 it waits `gatewayGraceMs` (default 5000) for one of those before giving up.
 * `destroy()` leaves the channel (op 4 with `channel_id: null`).
 *
 * One connection per guild and `group`: if the guild already has a live connection in the
 * group, that connection is returned (this call's `gateway` is not used) and, if
 * `channelId`, `selfMute` or `selfDeaf` differ — or it gave up (`disconnected`) — op 4 is
 * sent again and the connection follows the updates that answer it. See
 * {@link getVoiceConnection}.
 *
 * Facts: Discord docs, "Voice Connections" → "Retrieving Voice Server Information".
 *
 * @throws {VoiceConnectionError} `GATEWAY_UNAVAILABLE` when the guild has a connection and
 *   the op 4 to move it could not be sent. A new connection whose op 4 could not be sent is
 *   returned `disconnected` with that error instead (`rejoin()` tries again).
 * @example
 * ```ts
 * const conn = joinVoiceChannelFrom({
 *   guildId, channelId, selfDeaf: false,
 *   gateway: { voiceStateUpdates$, voiceServerUpdates$, send: (p) => shard.send(p) },
 * });
 * await conn.ready();
 * ```
 */
export function joinVoiceChannelFrom(options: JoinOptions & { gateway: MainGatewayLink }): VoiceConnection {
  const group = options.group ?? DEFAULT_GROUP;
  const existing = findTracked(options.guildId, group);
  if (existing) {
    existing.rejoin(rejoinRequest(options));
    return existing.connection;
  }
  return createJoinedConnection(options, group);
}

function createJoinedConnection(options: JoinOptions & { gateway: MainGatewayLink }, group: string): VoiceConnection {
  const { gateway, guildId } = options;
  /** What the last op 4 asked for (and, once answered, where the main gateway says the bot is). */
  let wanted = rejoinRequest(options);
  let channelId = wanted.channelId;
  const inner$ = new BehaviorSubject<VoiceConnection | null>(null);
  const own = new BehaviorSubject<VoiceConnectionState>({ status: 'connecting', endpoint: '', attempt: 0 });
  let voiceState: VoiceStateUpdateData | null = null;
  let server: VoiceServerUpdateData | null = null;
  let destroyed = false;
  const subs = new Subscription();

  // `transport` is read by every sink on every tick, and the inner connection's getter is a
  // chain of objects (connection → machine → model → state) that is out of the CPU caches by
  // the next tick. The value is cached: connectVoice changes its transport only in the same
  // model emission as a new state (SESSION_DESCRIPTION, RESUMED, a new UDP socket, connecting,
  // disconnected, destroyed: each a new state object, each emitted on `state$`). An emission
  // clears the cache, and nothing is cached until the emission has finished (a microtask
  // later): subscribers of `state$` may run before the inner connection updated its transport.
  let transportOf: VoiceConnection | null = null;
  let readTransport: () => VoiceTransport | null = () => null;
  let cachedTransport: VoiceTransport | null = null;
  let transportCached = false;
  let transportSettling = false;
  const transportMayChange = (): void => {
    transportCached = false;
    if (transportSettling) return;
    transportSettling = true;
    queueMicrotask(() => {
      transportSettling = false;
    });
  };
  const currentTransport = (): VoiceTransport | null => {
    const inner = inner$.value;
    if (inner === null) return null;
    if (inner !== transportOf) {
      transportOf = inner;
      readTransport = propertyReader(inner, 'transport');
    }
    return readTransport();
  };


  const payload = (channel: string | null): VoiceStateUpdatePayload => ({
    op: 4,
    d: { guild_id: guildId, channel_id: channel, self_mute: wanted.selfMute, self_deaf: wanted.selfDeaf },
  });

  const finish = (reason: VoiceConnectionDestroyReason): void => {
    if (destroyed) return;
    destroyed = true;
    untrack(guildId, group, tracked);
    subs.unsubscribe();
    const inner = inner$.value;
    inner$.next(null); // its own `destroyed` is not forwarded: ours carries the reason
    inner?.destroy();
    own.next({ status: 'destroyed', reason });
    own.complete();
    inner$.complete();
    gateway.release?.();
  };

  const maybeConnect = (): void => {
    if (destroyed || !voiceState || !server) return;
    const inner = inner$.value;
    if (!inner) {
      if (!server.endpoint) return; // waiting for a voice server
      inner$.next(
        connectVoice({
          gatewayGraceMs: DEFAULT_GATEWAY_GRACE_MS,
          ...options,
          endpoint: server.endpoint,
          serverId: guildId,
          userId: voiceState.user_id,
          sessionId: voiceState.session_id,
          token: server.token,
          channelId,
        }),
      );
    }
  };

  subs.add(
    gateway.voiceStateUpdates$
      .pipe(filter((d) => (d.guild_id == null || d.guild_id === guildId) && (!options.userId || d.user_id === options.userId)))
      .subscribe((d) => {
        if (d.channel_id === null) {
          finish('disconnected-by-server'); // a moderator disconnected the bot, or it left from elsewhere
          return;
        }
        const previous = voiceState;
        voiceState = d;
        channelId = d.channel_id;
        // Where the main gateway says the bot is (moved by someone: a later join compares with this).
        wanted = { channelId, selfMute: d.self_mute ?? wanted.selfMute, selfDeaf: d.self_deaf ?? wanted.selfDeaf };
        const inner = inner$.value;
        if (inner && previous) inner.updateSession({ sessionId: d.session_id, channelId: d.channel_id });
        else maybeConnect();
      }),
  );
  subs.add(
    gateway.voiceServerUpdates$.pipe(filter((d) => d.guild_id === guildId)).subscribe((d) => {
      const previous = server;
      server = d;
      const inner = inner$.value;
      if (inner) {
        if (previous?.endpoint !== d.endpoint || previous?.token !== d.token) inner.updateServer({ endpoint: d.endpoint, token: d.token });
      } else maybeConnect();
    }),
  );

  const fromInner = <T>(pick: (c: VoiceConnection) => Observable<T>): Observable<T> =>
    inner$.pipe(switchMap((c) => (c ? pick(c) : EMPTY)));

  const state$ = merge(
    own.pipe(filter(() => inner$.value === null || destroyed)),
    fromInner((c) => c.state$),
  ).pipe(
    distinctUntilChanged((a, b) => a === b || (a.status === 'destroyed' && b.status === 'destroyed')),
    shareReplay({ bufferSize: 1, refCount: false }),
  );
  subs.add(state$.subscribe(() => transportMayChange()));
  subs.add(inner$.subscribe(() => transportMayChange()));
  const currentState = (): VoiceConnectionState => inner$.value?.state ?? own.value;

  const clients$ = inner$.pipe(switchMap((c) => (c ? c.clients$ : of(new Set<string>() as ReadonlySet<string>))));

  const connection: VoiceConnection = {
    guildId,
    get channelId() {
      return channelId;
    },
    state$,
    get state() {
      return currentState();
    },
    ping$: fromInner((c) => c.ping$),
    speaking$: fromInner((c) => c.speaking$),
    clients$,
    messages$: fromInner((c) => c.messages$),
    speakers$: fromInner((c) => c.speakers$),
    dave$: fromInner((c) => c.dave$),
    verificationCode: (userId) =>
      inner$.value
        ? inner$.value.verificationCode(userId)
        : Promise.reject(new RxVoiceError('NOT_CONNECTED', 'not connected to a voice server yet')),
    receiveStats: () =>
      inner$.value?.receiveStats() ?? { packets: 0, malformed: 0, keepAlives: 0, ignored: 0, unknownSsrc: 0, decryptFailures: 0, trackedSsrcs: 0 },
    get transport() {
      if (transportCached && !destroyed) return cachedTransport;
      const t = currentTransport();
      if (!transportSettling && !destroyed) {
        cachedTransport = t;
        transportCached = true;
      }
      return t;
    },
    ready: (timeoutMs = 30_000) => waitForReady(state$, timeoutMs, options.scheduler),
    setSpeaking: (flags) => inner$.value?.setSpeaking(flags),
    updateServer: (u) => inner$.value?.updateServer(u),
    updateSession: (u) => inner$.value?.updateSession(u),
    rejoin: () => tracked.rejoin({ ...wanted }),
    destroy: () => {
      if (destroyed) return;
      gateway.send(payload(null));
      finish('destroy-called');
    },
  };

  const tracked: TrackedConnection = {
    connection,
    rejoin(request) {
      if (destroyed) return;
      const same = request.channelId === wanted.channelId && request.selfMute === wanted.selfMute && request.selfDeaf === wanted.selfDeaf;
      if (same && currentState().status !== 'disconnected') return; // already there (or on the way)
      const before = wanted;
      wanted = request;
      if (!gateway.send(payload(request.channelId))) {
        wanted = before;
        throw gatewayUnavailable();
      }
      if (!inner$.value && own.value.status === 'disconnected') own.next({ status: 'connecting', endpoint: '', attempt: 0 });
    },
  };
  track(guildId, group, tracked);
  if (!options.scheduler && !options.drivers && voiceDriverThreads() > 0) {
    // Its connection will run on a driver thread: sinks on this wrapper play there.
    setRemoteTarget(connection, () => {
      const inner = inner$.value;
      return inner ? (remoteTargetOf(inner)?.() ?? null) : null;
    });
  }
  if (gateway.gone$) subs.add(gateway.gone$.subscribe(() => finish('adapter-gone')));

  if (!destroyed && !gateway.send(payload(channelId))) {
    // As @discordjs/voice: kept (getVoiceConnection finds it); rejoin() or a later join sends op 4 again.
    own.next({ status: 'disconnected', endpoint: '', error: gatewayUnavailable() });
  }
  return connection;
}

const gatewayUnavailable = (): VoiceConnectionError =>
  new VoiceConnectionError('GATEWAY_UNAVAILABLE', 'the main gateway could not send the voice state update (is the shard connected?)');
