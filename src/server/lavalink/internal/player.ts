import { BehaviorSubject, defer, Observable, type Subscription, takeWhile } from 'rxjs';
import { FRAME_MS, type OpusPacket, type PcmFrame } from '../../../core/audioFormat';
import { DemandGate, withDemand } from '../../../core/FrameDemand';
import { frameMediaMs, setFrameMediaMs } from '../../../core/mediaTime';
import { connectVoice, type VoiceConnection } from '../../../gateway/connectVoice';
import type { VoiceConnectionState } from '../../../gateway/VoiceConnectionState';
import { filters as filtersOperator, type FiltersConfig } from '../../../operators/filters';
import { opusEncode } from '../../../operators/opusEncode';
import { volume as volumeOperator } from '../../../operators/volume';
import { createPlayer, type Player as RxPlayer, type PlayerEvent } from '../../../player';
import { AudioSourceError } from '../../../sources/AudioSourceError';
import { ffmpegSource } from '../../../sources/ffmpegSource';
import type { Exception, Filters, Player, PlayerState, Track, TrackEndReason, VoiceState } from '../types';
import type { MessageSink, NodeContext } from './context';

/** Voice credentials of a player, all four present (Lavalink ≥ 4.2: `channelId` required for DAVE). */
export interface FullVoiceState {
  token: string;
  endpoint: string;
  sessionId: string;
  channelId: string;
}

/** One track handed to the rxvoice player: the Lavalink track, and how it ends. */
interface PlayCtx {
  readonly track: Track;
  /** Where to start, ms of the track (seeks before it started, resumes after a reconnect). */
  startMs: number;
  /** Stop reading at this position, ms (Lavalink's `endTime`), or null. */
  endTime: number | null;
  /** Set when the node ends the track itself (replaced, stopped, cleanup): the reason reported. */
  endReason: TrackEndReason | null;
  started: boolean;
  /** The end was reported already (or must not be). */
  ended: boolean;
}

/**
 * Lavalink's player volume (percent, 0–1000) as a linear gain, as lavaplayer's
 * `PcmVolumeProcessor` computes it: 100 % is exactly 1; up to 150 % `tan(0.0079·v)`
 * (50 % → ×0.417), above `2.4621·v/150` (1000 % → ×16.4).
 */
export function lavaplayerGain(percent: number): number {
  if (percent === 100) return 1;
  if (percent <= 0) return 0;
  if (percent <= 150) return Math.tan(percent * 0.0079);
  return (24621 * percent) / 150 / 10_000;
}

/**
 * How far tracks are read (decoded, filtered, encoded) ahead of what was sent, ms: the delay
 * before a volume or filter change is heard (Lavalink's `bufferDurationMs` default is 400 too).
 */
const LEAD_MS = 400;

/** Frame counters of a player since it was created (for `frameStats`). */
export interface FrameCounters {
  sent: number;
  nulled: number;
}

/** Whether `uri` is read over the network (ffmpeg's http/https protocols). */
function isHttp(uri: string): boolean {
  return /^https?:\/\//i.test(uri);
}

/**
 * Extra `ffmpeg` input options for network inputs. ffmpeg reconnects by itself when the server
 * drops the connection (at the byte offset, with a Range request; a live stream from where it
 * is now), trying for about a second (`-reconnect_delay_max 2`: attempts after 0 s and 1 s);
 * a read that hangs fails after {@link READ_TIMEOUT_MS}. For a live stream (`isStream`),
 * `-xerror` makes ffmpeg exit non-zero when its input fails, instead of ending as if the stream
 * were over (exit code 0), so that {@link reconnecting} can tell a drop from the end.
 * Verified with the bundled ffmpeg 4.1, which has no `-reconnect_on_network_error`.
 */
function inputArgs(uri: string, isStream: boolean): string[] {
  if (!isHttp(uri)) return [];
  return [
    ...(isStream ? ['-xerror'] : []),
    '-reconnect',
    '1',
    '-reconnect_streamed',
    '1',
    '-reconnect_delay_max',
    '2',
    '-rw_timeout',
    String(READ_TIMEOUT_MS * 1000),
  ];
}

/** A network read that gets no data for this long fails (ffmpeg's `-rw_timeout`), ms. */
const READ_TIMEOUT_MS = 10_000;
/** A track whose input dropped is re-opened for at most this long without getting audio, ms. */
const RECONNECT_WINDOW_MS = 30_000;
/** Waits before each re-open after a drop (the last one repeats), ms. */
const RECONNECT_DELAYS_MS = [0, 250, 500, 500, 1000];
/** A file input that ends more than this before its length ended early (the connection dropped), ms. */
const TRUNCATION_SLACK_MS = 1000;

/** What {@link reconnecting} needs to know about the input. */
interface ReconnectingInput {
  readonly uri: string;
  /** A live stream: any failure after audio came is a drop (ffmpeg runs with `-xerror`). */
  readonly isStream: boolean;
  /** The input's length, ms (files): ending earlier than this is a drop. */
  readonly lengthMs: number;
  /** Where to start, ms. */
  readonly startMs: number;
  /** Told about every re-open (for the log). */
  readonly onReconnect: (attempt: number, atMs: number, why: string) => void;
}

/**
 * `ffmpegSource` of a network input that survives the connection dropping: once audio has come,
 * a failure of ffmpeg (a drop it could not reconnect by itself), or — for a file — ending more
 * than {@link TRUNCATION_SLACK_MS} before its length, re-opens the input at the media position
 * reached (a live stream: where it is now), again and again for up to
 * {@link RECONNECT_WINDOW_MS} without audio (waits {@link RECONNECT_DELAYS_MS}); then the last
 * error is the source's error. A re-open that ends cleanly without audio is the end. Failing
 * before any audio came is not retried (a dead URL fails at once). Demand-aware: the inner
 * `ffmpegSource` runs under this source's gate, so seeks reach it, and a seek while waiting to
 * re-open re-opens there at once.
 */
function reconnecting(input: ReconnectingInput): Observable<PcmFrame> {
  return new Observable<PcmFrame>((subscriber) => {
    const gate = new DemandGate(subscriber);
    let run: Subscription | undefined;
    let timer: NodeJS.Timeout | undefined;
    /** Media position of the next frame, ms. */
    let nextMs = input.startMs;
    let everAudio = false;
    let audioThisRun = false;
    let lastAudioAt = Date.now();
    let attempt = 0;

    const retryOrEnd = (error: unknown): void => {
      const waited = Date.now() - lastAudioAt;
      if (!everAudio || waited > RECONNECT_WINDOW_MS) {
        if (error === null) subscriber.complete();
        else subscriber.error(error);
        return;
      }
      const delay = RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)];
      attempt++;
      const why = error === null ? `ended at ${nextMs} ms of ${input.lengthMs} ms` : error instanceof Error ? error.message.split('\n')[0] : String(error);
      input.onReconnect(attempt, nextMs, why);
      timer = setTimeout(() => start(nextMs), delay);
    };

    const start = (fromMs: number): void => {
      timer = undefined;
      audioThisRun = false;
      nextMs = fromMs;
      // A live stream is re-opened where it is now: its frames go on from the position reached.
      const offsetMs = input.isStream ? fromMs : 0;
      run = withDemand(gate, () =>
        ffmpegSource(input.uri, { seekMs: input.isStream ? 0 : fromMs, args: inputArgs(input.uri, input.isStream) }).subscribe({
          next: (frame) => {
            if (offsetMs > 0) setFrameMediaMs(frame, (frameMediaMs(frame) ?? 0) + offsetMs);
            nextMs = (frameMediaMs(frame) ?? nextMs) + FRAME_MS;
            everAudio = true;
            audioThisRun = true;
            lastAudioAt = Date.now();
            attempt = 0;
            gate.emit(subscriber, frame);
          },
          error: (err: unknown) => retryOrEnd(err),
          complete: () => {
            const early = !input.isStream && nextMs < input.lengthMs - TRUNCATION_SLACK_MS;
            // A file that ended early dropped; a re-open that brought nothing more is the real end.
            if (early && audioThisRun) retryOrEnd(null);
            else subscriber.complete();
          },
        }),
      );
    };

    const seeks = gate.seek$.subscribe((ms) => {
      nextMs = Math.max(0, ms);
      if (timer !== undefined) {
        // Waiting to re-open: go there now (a running ffmpeg follows the seek by itself).
        clearTimeout(timer);
        start(nextMs);
      }
    });
    start(input.startMs);
    return () => {
      clearTimeout(timer);
      seeks.unsubscribe();
      run?.unsubscribe();
      gate.dispose();
    };
  });
}

/**
 * One guild's player in a session: a voice connection (`connectVoice`), an rxvoice player on
 * it, the Lavalink state (track, volume, paused, filters, endTime) and its events.
 * Source: docs/api/rest.md "Player API", docs/api/websocket.md "Event Types".
 */
export class NodePlayer {
  private voice: FullVoiceState | null = null;
  private conn: VoiceConnection | null = null;
  private rx: RxPlayer<PlayCtx> | null = null;
  private readonly subs: Subscription[] = [];
  /** Subscriptions of the current connection and rx player. */
  private connSubs: Subscription[] = [];
  /** The track Lavalink reports (cleared before its TrackEndEvent is sent). */
  private current: PlayCtx | null = null;
  private volumePercent = 100;
  private pausedFlag = false;
  private filterConfig: Filters = {};
  private readonly filters$ = new BehaviorSubject<FiltersConfig>({});
  private readonly gain$ = new BehaviorSubject<number>(1);
  private ping = -1;
  private connected = false;
  private reconnectingReported = false;
  private readonly updateTimer: NodeJS.Timeout;
  private readonly stuckTimer: NodeJS.Timeout;
  private lastPosition = -1;
  private lastMoveAt = Date.now();
  private stuckReported = false;
  private destroyed = false;
  /** Totals of the rx players this player had (for frameStats). */
  readonly frames: FrameCounters = { sent: 0, nulled: 0 };
  private rxFrames: FrameCounters = { sent: 0, nulled: 0 };

  constructor(
    readonly guildId: string,
    private readonly userId: string,
    private readonly sink: MessageSink,
    private readonly ctx: NodeContext,
  ) {
    this.updateTimer = setInterval(() => this.sendPlayerUpdate(), ctx.playerUpdateIntervalMs);
    this.updateTimer.unref();
    this.stuckTimer = setInterval(() => this.checkStuck(), 250);
    this.stuckTimer.unref();
  }

  /** Whether a track is loaded and not paused. */
  get playing(): boolean {
    return this.current !== null && !this.pausedFlag;
  }

  /** The current track, or null. */
  get track(): Track | null {
    return this.current?.track ?? null;
  }

  /** Position in the current track, ms (0 without one). */
  get position(): number {
    const c = this.current;
    if (!c) return 0;
    const state = this.rx?.state;
    if (state && state.track?.data === c) return Math.round(state.positionMs);
    return c.startMs;
  }

  get paused(): boolean {
    return this.pausedFlag;
  }

  /** `state` of the Player object (websocket.md "Player State"). */
  state(): PlayerState {
    return { time: Date.now(), position: this.position, connected: this.connected, ping: this.connected ? this.ping : -1 };
  }

  /** The Player object (rest.md "Player"); `track.info.position` is the current position. */
  toJSON(): Player {
    const track = this.current ? { ...this.current.track, info: { ...this.current.track.info, position: this.position } } : null;
    const v = this.voice;
    return {
      guildId: this.guildId,
      track,
      volume: this.volumePercent,
      paused: this.pausedFlag,
      state: this.state(),
      voice: v ? { token: v.token, endpoint: v.endpoint, sessionId: v.sessionId, channelId: v.channelId } : { token: '', endpoint: '', sessionId: '', channelId: null },
      filters: this.filterConfig,
    };
  }

  /** Frames sent and nulled so far (this player's rx players together). */
  frameTotals(): FrameCounters {
    return { sent: this.frames.sent + this.rxFrames.sent, nulled: this.frames.nulled + this.rxFrames.nulled };
  }

  /**
   * Connects (or moves) the voice connection. A connection that gave up is replaced; otherwise
   * only what changed is fed to it (`updateSession`, `updateServer`).
   */
  setVoice(v: FullVoiceState): void {
    if (this.destroyed) return;
    const old = this.voice;
    if (old && old.token === v.token && old.endpoint === v.endpoint && old.sessionId === v.sessionId && old.channelId === v.channelId) return;
    this.voice = { ...v };
    const status = this.conn?.state.status;
    if (!this.conn || status === 'disconnected' || status === 'destroyed' || !old) {
      this.openConnection(v);
      return;
    }
    if (old.sessionId !== v.sessionId || old.channelId !== v.channelId) this.conn.updateSession({ sessionId: v.sessionId, channelId: v.channelId });
    if (old.endpoint !== v.endpoint || old.token !== v.token) this.conn.updateServer({ endpoint: v.endpoint, token: v.token });
  }

  /** Plays `track` (replacing the current one, reported `replaced`), from `startMs`; with `noReplace`, does nothing while a track is loaded. */
  play(track: Track, options: { startMs?: number; endTime?: number | null; noReplace?: boolean } = {}): void {
    if (this.destroyed) return;
    if (options.noReplace && this.current) return;
    const old = this.current;
    const next: PlayCtx = { track, startMs: options.startMs ?? 0, endTime: options.endTime ?? null, endReason: null, started: false, ended: false };
    this.current = next;
    this.lastMoveAt = Date.now();
    this.stuckReported = false;
    if (old) old.endReason = 'replaced';
    if (!this.rx) {
      // No voice connection yet: it starts when one is given. The old track never reached a player.
      if (old) this.endWithoutPlayer(old, 'replaced');
      return;
    }
    const oldInRx = old !== null && this.rx.state.track?.data === old;
    this.rx.enqueue(this.rxTrack(next));
    if (oldInRx) this.rx.skip();
    else if (old) this.endWithoutPlayer(old, 'replaced');
  }

  /** Stops the current track (`encoded: null`): TrackEndEvent `stopped`. */
  stop(): void {
    const old = this.current;
    if (!old) return;
    old.endReason = 'stopped';
    this.current = null;
    if (this.rx && this.rx.state.track?.data === old) this.rx.stop();
    else this.endWithoutPlayer(old, 'stopped');
  }

  /** Jumps to `positionMs` of the current track, and sends a playerUpdate at once. */
  seek(positionMs: number): void {
    const c = this.current;
    if (!c) return;
    this.lastMoveAt = Date.now();
    if (this.rx && this.rx.state.track?.data === c) this.rx.seek(Math.max(0, positionMs));
    else c.startMs = Math.max(0, positionMs);
    this.sendPlayerUpdate();
  }

  /** Sets the end time of the current track (null: none). */
  setEndTime(endTime: number | null): void {
    if (this.current) this.current.endTime = endTime;
  }

  setPaused(paused: boolean): void {
    if (paused === this.pausedFlag) return;
    this.pausedFlag = paused;
    this.lastMoveAt = Date.now();
    if (!this.rx) return;
    if (paused) this.rx.pause();
    else this.rx.resume();
  }

  /** Player volume, percent 0–1000 (lavaplayer's curve, {@link lavaplayerGain}). */
  setVolume(percent: number): void {
    this.volumePercent = percent;
    this.gain$.next(lavaplayerGain(percent));
  }

  /** Replaces every filter (validated by the caller). */
  setFilters(config: Filters): void {
    this.filterConfig = config;
    this.filters$.next(config);
  }

  /**
   * Ends the player: a loaded track ends with `cleanup` (reported when `report`), the voice
   * connection leaves. Idempotent.
   */
  destroy(report = true): void {
    if (this.destroyed) return;
    this.destroyed = true;
    clearInterval(this.updateTimer);
    clearInterval(this.stuckTimer);
    const c = this.current;
    this.current = null;
    if (c) {
      c.ended = true;
      if (report && c.started) this.sendEnd(c, 'cleanup');
    }
    this.closeConnection();
    for (const s of this.subs) s.unsubscribe();
  }

  /** Sends a playerUpdate now (only while a track is loaded). */
  sendPlayerUpdate(): void {
    if (this.destroyed || !this.current) return;
    this.sink.send({ op: 'playerUpdate', guildId: this.guildId, state: this.state() });
  }

  // ------------------------------------------------------------------------------------------

  private rxTrack(c: PlayCtx): { source: Observable<OpusPacket>; title: string; data: PlayCtx } {
    const uri = c.track.info.uri ?? c.track.info.identifier;
    const { isStream, length } = c.track.info;
    const source = defer(() =>
      (isHttp(uri)
        ? reconnecting({
            uri,
            isStream,
            lengthMs: isStream ? Number.MAX_SAFE_INTEGER : length,
            startMs: c.startMs,
            onReconnect: (attempt, atMs, why) =>
              this.ctx.log({ level: 'warn', message: `guild ${this.guildId}: input dropped (${why}); re-opening at ${atMs} ms (attempt ${attempt})`, data: { uri } }),
          })
        : ffmpegSource(uri, { seekMs: c.startMs })
      ).pipe(
        takeWhile((frame) => c.endTime === null || (frameMediaMs(frame) ?? 0) < c.endTime),
        filtersOperator(this.filters$, { onError: (e) => this.ctx.log({ level: 'warn', message: `filters: ${e.message}` }) }),
        volumeOperator(this.gain$),
        opusEncode(),
      ),
    );
    return { source, title: c.track.info.title, data: c };
  }

  private openConnection(v: FullVoiceState): void {
    this.closeConnection();
    let conn: VoiceConnection;
    try {
      conn = connectVoice({
        endpoint: v.endpoint,
        serverId: this.guildId,
        userId: this.userId,
        sessionId: v.sessionId,
        token: v.token,
        channelId: v.channelId,
        dave: this.ctx.dave,
      });
    } catch (err) {
      // A voice state the client sent that cannot connect (e.g. a malformed endpoint): as a
      // voice gateway that could not be reached, not a failed request.
      const message = err instanceof Error ? err.message : String(err);
      this.ctx.log({ level: 'warn', message: `guild ${this.guildId}: ${message}` });
      this.sendClosed(1006, message, false);
      return;
    }
    this.conn = conn;
    this.reconnectingReported = false;
    const rx = createPlayer<PlayCtx>(conn, { leadMs: LEAD_MS });
    this.rx = rx;
    this.rxFrames = { sent: 0, nulled: 0 };
    this.connSubs = [
      conn.state$.subscribe((s) => this.onConnectionState(conn, s)),
      conn.ping$.subscribe((p) => (this.ping = Math.round(p))),
      rx.events$.subscribe((e) => this.onRxEvent(rx, e)),
      rx.progress$.subscribe((p) => {
        this.rxFrames = { sent: p.framesSent, nulled: p.underruns };
        if (Math.round(p.positionMs) !== this.lastPosition) {
          this.lastPosition = Math.round(p.positionMs);
          this.lastMoveAt = Date.now();
        }
      }),
    ];
    if (this.pausedFlag) rx.pause();
    const c = this.current;
    if (c) rx.enqueue(this.rxTrack(c));
  }

  private closeConnection(): void {
    for (const s of this.connSubs) s.unsubscribe();
    this.connSubs = [];
    this.frames.sent += this.rxFrames.sent;
    this.frames.nulled += this.rxFrames.nulled;
    this.rxFrames = { sent: 0, nulled: 0 };
    this.rx?.destroy();
    this.rx = null;
    this.conn?.destroy();
    this.conn = null;
    this.connected = false;
  }

  private onConnectionState(conn: VoiceConnection, s: VoiceConnectionState): void {
    if (conn !== this.conn) return;
    this.connected = s.status === 'ready';
    if (s.status === 'ready') {
      this.reconnectingReported = false;
      this.lastMoveAt = Date.now(); // no audio could be sent before: the stuck clock starts now
      return;
    }
    if (s.status === 'reconnecting' && !this.reconnectingReported) {
      this.reconnectingReported = true;
      const m = /closed with (\d+)/.exec(s.reason);
      const code = m ? Number(m[1]) : 1006;
      // 1006: no close frame came (refused, reset, timed out) — closed on this side, not by the server.
      this.sendClosed(code, s.reason, code !== 1006);
    } else if (s.status === 'disconnected') {
      const code = s.error.closeCode;
      this.sendClosed(code ?? 1006, s.error.message, code !== null && code !== 1006);
    }
  }

  private sendClosed(code: number, reason: string, byRemote: boolean): void {
    if (this.destroyed) return;
    this.sink.send({ op: 'event', type: 'WebSocketClosedEvent', guildId: this.guildId, code, reason, byRemote });
  }

  private onRxEvent(rx: RxPlayer<PlayCtx>, e: PlayerEvent<PlayCtx>): void {
    if (rx !== this.rx || this.destroyed) return;
    if (e.type === 'start') {
      const c = e.track.data;
      if (!c || c.ended) return;
      c.started = true;
      this.lastMoveAt = Date.now();
      if (c === this.current) this.sink.send({ op: 'event', type: 'TrackStartEvent', guildId: this.guildId, track: c.track });
      return;
    }
    if (e.type === 'end') {
      const c = e.track.data;
      if (!c || c.ended) return;
      if (e.reason === 'failed' && isConnectionClosed(e.error)) {
        // The voice connection ended: keep the track; a new voice state plays it on from here.
        c.startMs = e.positionMs;
        return;
      }
      c.ended = true;
      if (c === this.current) this.current = null; // before TrackEndEvent: clients play the next track right away
      if (e.reason === 'failed') {
        // As lavaplayer: the exception first; `loadFailed` only when no audio of the track was
        // played, else `finished` (a track that broke off after playing a while). lavaplayer
        // sends TrackStart when a track is started, before it loads, so a track that failed
        // before its first packet gets its TrackStart here: Start, Exception, End.
        if (!c.started) this.sink.send({ op: 'event', type: 'TrackStartEvent', guildId: this.guildId, track: c.track });
        this.sink.send({ op: 'event', type: 'TrackExceptionEvent', guildId: this.guildId, track: c.track, exception: exceptionOf(e.error) });
        this.sendEnd(c, c.started ? 'finished' : 'loadFailed');
      } else if (e.reason === 'finished') {
        this.sendEnd(c, 'finished');
      } else {
        this.sendEnd(c, c.endReason ?? 'stopped');
      }
      return;
    }
    if (e.type === 'error') {
      // The connection is gone (destroyed, or gave up): the next voice state makes a new one.
      this.frames.sent += this.rxFrames.sent;
      this.frames.nulled += this.rxFrames.nulled;
      this.rxFrames = { sent: 0, nulled: 0 };
      this.rx = null;
      this.connected = false;
    }
  }

  /** A track that never reached an rx player ends (only reported if it had started). */
  private endWithoutPlayer(c: PlayCtx, reason: TrackEndReason): void {
    if (c.ended) return;
    c.ended = true;
    if (c.started) this.sendEnd(c, reason);
  }

  private sendEnd(c: PlayCtx, reason: TrackEndReason): void {
    if (this.destroyed && reason !== 'cleanup') return;
    this.sink.send({ op: 'event', type: 'TrackEndEvent', guildId: this.guildId, track: c.track, reason });
  }

  /**
   * TrackStuckEvent when the current track, once started, sent no audio for
   * `trackStuckThresholdMs` while it should (connected, not paused). As lavaplayer: at most once
   * per track (until the next `play`), the track is not ended (it plays on if audio comes back;
   * the client decides what to do), and a playerUpdate follows. Unlike lavaplayer, loading does
   * not count (this node sends TrackStartEvent with the first audio, and a stuck event must not
   * come before it); a load that hangs fails after ffmpeg's read timeout instead.
   */
  private checkStuck(): void {
    const c = this.current;
    if (!c || !c.started || this.pausedFlag || !this.connected || this.stuckReported) return;
    if (Date.now() - this.lastMoveAt < this.ctx.trackStuckThresholdMs) return;
    this.stuckReported = true;
    this.sink.send({ op: 'event', type: 'TrackStuckEvent', guildId: this.guildId, track: c.track, thresholdMs: this.ctx.trackStuckThresholdMs });
    this.sendPlayerUpdate();
  }
}

function isConnectionClosed(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'CONNECTION_CLOSED';
}

/** A track's failure as Lavalink's Exception object (websocket.md "Exception Object"). */
function exceptionOf(error: unknown): Exception {
  const err = error instanceof Error ? error : new Error(String(error));
  const tail = err instanceof AudioSourceError && err.stderrTail ? `\n${err.stderrTail}` : '';
  return {
    message: err.message,
    severity: err instanceof AudioSourceError ? 'common' : 'fault',
    cause: `${err.name}: ${err.message}${tail}`,
    causeStackTrace: err.stack ?? `${err.name}: ${err.message}`,
  };
}

export type { VoiceState };
