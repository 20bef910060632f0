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
import { waitForReady } from './waitForReady';
import { connectVoice, type ConnectVoiceOptions, type VoiceConnection } from './connectVoice';
import { VoiceConnectionError } from './VoiceConnectionError';
import type { VoiceConnectionState } from './VoiceConnectionState';
import { RxVoiceError } from '../errors';

/** The `d` of a main-gateway VOICE_STATE_UPDATE dispatch (the fields rxvoice reads). */
export interface VoiceStateUpdateData {
  guild_id?: string | null;
  channel_id: string | null;
  user_id: string;
  session_id: string;
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
}

/** Any Discord main-gateway library, as observables plus a send function. */
export interface MainGatewayLink {
  /** VOICE_STATE_UPDATE dispatches (`d`); others' are ignored if `userId` is given, other guilds' always. */
  voiceStateUpdates$: Observable<VoiceStateUpdateData>;
  /** VOICE_SERVER_UPDATE dispatches (`d`); other guilds' are ignored. */
  voiceServerUpdates$: Observable<VoiceServerUpdateData>;
  /** Sends a payload on the main gateway; `false` if it certainly failed. */
  send(payload: VoiceStateUpdatePayload): boolean;
  /** Called once when the connection is destroyed (release the link). */
  release?(): void;
}

/**
 * Joins a voice channel through any main-gateway library: sends op 4 VOICE_STATE_UPDATE,
 * pairs VOICE_STATE_UPDATE (session id, user id) with VOICE_SERVER_UPDATE (token,
 * endpoint) in either order, then connects with {@link connectVoice}. Afterwards:
 * a `null` endpoint waits; a new endpoint reconnects there; a new channel id is followed
 * (a new session id re-identifies); `channel_id: null` (kicked, or left) ends in
 * `destroyed`. `destroy()` leaves the channel (op 4 with `channel_id: null`).
 *
 * Facts: Discord docs, "Voice Connections" → "Retrieving Voice Server Information".
 *
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
  const { gateway, guildId } = options;
  let channelId = options.channelId;
  const selfMute = options.selfMute ?? false;
  const selfDeaf = options.selfDeaf ?? true;
  const inner$ = new BehaviorSubject<VoiceConnection | null>(null);
  const own = new BehaviorSubject<VoiceConnectionState>({ status: 'connecting', endpoint: '', attempt: 0 });
  let voiceState: VoiceStateUpdateData | null = null;
  let server: VoiceServerUpdateData | null = null;
  let destroyed = false;
  const subs = new Subscription();

  const payload = (channel: string | null): VoiceStateUpdatePayload => ({
    op: 4,
    d: { guild_id: guildId, channel_id: channel, self_mute: selfMute, self_deaf: selfDeaf },
  });

  const finish = (final: VoiceConnectionState): void => {
    if (destroyed) return;
    destroyed = true;
    subs.unsubscribe();
    const inner = inner$.value;
    if (inner) inner.destroy();
    if (!inner || final.status !== 'destroyed') own.next(final);
    inner$.next(null);
    own.next({ status: 'destroyed' });
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
          finish({ status: 'destroyed' }); // kicked, or left from elsewhere
          return;
        }
        const previous = voiceState;
        voiceState = d;
        channelId = d.channel_id;
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

  if (!gateway.send(payload(channelId))) {
    finish({
      status: 'disconnected',
      endpoint: '',
      error: new VoiceConnectionError('BAD_OPTIONS', 'the main gateway could not send the voice state update (is the shard connected?)'),
    });
  }

  const fromInner = <T>(pick: (c: VoiceConnection) => Observable<T>): Observable<T> =>
    inner$.pipe(switchMap((c) => (c ? pick(c) : EMPTY)));

  const state$ = merge(
    own.pipe(filter(() => inner$.value === null || destroyed)),
    fromInner((c) => c.state$),
  ).pipe(
    distinctUntilChanged((a, b) => a === b || (a.status === 'destroyed' && b.status === 'destroyed')),
    shareReplay({ bufferSize: 1, refCount: false }),
  );
  subs.add(state$.subscribe());
  const currentState = (): VoiceConnectionState => inner$.value?.state ?? own.value;

  const clients$ = inner$.pipe(switchMap((c) => (c ? c.clients$ : of(new Set<string>() as ReadonlySet<string>))));

  return {
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
      inner$.value ? inner$.value.verificationCode(userId) : Promise.reject(new RxVoiceError('NOT_CONNECTED', 'not connected to a voice server yet')),
    receiveStats: () =>
      inner$.value?.receiveStats() ?? { packets: 0, malformed: 0, keepAlives: 0, ignored: 0, unknownSsrc: 0, decryptFailures: 0, trackedSsrcs: 0 },
    get transport() {
      return inner$.value?.transport ?? null;
    },
    ready: (timeoutMs = 30_000) => waitForReady(state$, timeoutMs, options.scheduler),
    setSpeaking: (flags) => inner$.value?.setSpeaking(flags),
    updateServer: (u) => inner$.value?.updateServer(u),
    updateSession: (u) => inner$.value?.updateSession(u),
    rejoin: () => inner$.value?.rejoin(),
    destroy: () => {
      if (destroyed) return;
      gateway.send(payload(null));
      finish({ status: 'destroyed' });
    },
  };
}
