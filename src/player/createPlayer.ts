import { defer, isObservable, Subject, Subscription, type Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import { RxVoiceError } from '../errors';
import type { VoiceConnection } from '../gateway/connectVoice';
import { audioSource } from '../sources/audioSource';
import { createPlaybackControl } from '../sinks/createPlaybackControl';
import { BufferedInput } from '../sinks/internal/BufferedInput';
import { playFeed, type PacketFeed, type PlaybackProgress, type PlayFeedOptions } from '../sinks/internal/playFeed';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../sinks/voiceSink';
import type { PlayerEvent, PlayerState, Track, TrackEndReason, TrackInput } from './Track';

/** Options of {@link createPlayer}. */
export interface PlayerOptions extends Omit<PlayFeedOptions, 'control'> {
  /** How far each track is read ahead of what was sent, ms. Default 1000. */
  leadMs?: number;
  /** Memory bound per track for sources that ignore demand, Opus payload bytes. Default 32 MiB. */
  maxBufferedBytes?: number;
}

/** A queue of tracks playing into one voice connection; see {@link createPlayer}. */
export interface Player<T = unknown> {
  /** Adds tracks at the end of the queue; playback starts if the player was idle. */
  enqueue(...tracks: TrackInput<T>[]): void;
  /** Enqueues every track `tracks$` emits, as it emits it; unsubscribe to stop taking more. */
  play(tracks$: Observable<TrackInput<T>>): Subscription;
  /** Ends the current track (`end` with `skipped`) and goes on with the next one, gaplessly. */
  skip(): void;
  /** Ends the current track (`stopped`), empties the queue, sends the trailing silence; the player stays usable. */
  stop(): void;
  /** 5 silence frames, speaking off; the current track stays loaded (read ahead at most `leadMs`). */
  pause(): void;
  resume(): void;
  /** Jumps to `positionMs` of the current track (buffered audio of it is dropped; the next track's read-ahead is kept). */
  seek(positionMs: number): void;
  /** Status, current track, its position (ms), and what is queued after it. */
  readonly state: PlayerState<T>;
  /**
   * Track events in playback order (hot), delivered right after the clock tick that sent the
   * packet (a microtask), so handlers may call `skip()`, `pause()` or `destroy()` freely. If the connection is destroyed or gives up, the
   * current track ends with `failed`, one `error` event (`CONNECTION_CLOSED`) follows and
   * `events$` completes; it also completes on `destroy()`. It never errors, so a bot that
   * forgot an error handler does not crash.
   */
  readonly events$: Observable<PlayerEvent<T>>;
  /** `PlaybackProgress` of the sink (every `progressEveryMs` of audio and on status changes; `positionMs` is the track's). */
  readonly progress$: Observable<PlaybackProgress>;
  /** Stops at once (no trailing silence), releases every track; `events$` completes. Idempotent. */
  destroy(): void;
}

/** Most tracks read ahead at once (only short or failed ones are passed over). */
const MAX_AHEAD = 8;

interface Entry<T> {
  readonly track: Track<T>;
  readonly input: BufferedInput;
  started: boolean;
}

/**
 * A player for queues of tracks — what @discordjs/voice's `AudioPlayer` plus a queue, or a
 * Lavalink client's player, gives a music bot — on one voice connection.
 *
 * Tracks play one after the other through one sink, **gaplessly**: the next track is read
 * ahead while the current one ends, and no silence frames or SPEAKING changes come between
 * consecutive tracks. Each track is read at most `leadMs` ahead (the next one only once the
 * current one has been read to its end), so memory stays bounded. A failing track (missing
 * file, corrupt data, no ffmpeg) ends with `failed` and the queue goes on. When the queue
 * runs out the player sends the trailing silence frames, turns speaking off and emits `idle`;
 * tracks enqueued later start it again. RTP sequence and timestamp continue throughout (they
 * belong to the connection), and the player waits its turn behind any other sink on it.
 *
 * Events (`events$`): `start` when a track's first packet is sent, `end` with
 * `finished | skipped | stopped | failed` when its last one is (or it is cut), `idle` when
 * the queue is empty. `state` gives the current track and its `positionMs` (reset per
 * track).
 *
 * Bad input arrives as `end` with `failed`; a closed connection as an `error` event.
 *
 * @throws {RxVoiceError} `INVALID_ARGUMENT` from `seek` with a negative or non-finite position.
 *
 * @example
 * ```ts
 * const player = createPlayer(conn);
 * player.events$.subscribe((e) => e.type === 'start' && console.log(`now playing ${e.track.title}`));
 * player.enqueue('intro.ogg', 'song.mp3', { source: 'https://example.com/radio.mp3', title: 'Radio' });
 * player.skip();        // next track, no gap
 * player.seek(30_000);  // 0:30 into the current track
 * ```
 */
export function createPlayer<T = unknown>(conn: VoiceConnection, options: PlayerOptions = {}): Player<T> {
  const leadMs = options.leadMs ?? 1000;
  const maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  const events = new Subject<PlayerEvent<T>>();
  const progress = new Subject<PlaybackProgress>();
  const control = createPlaybackControl();
  const pending: Track<T>[] = [];
  const inputs = new Subscription();
  let current: Entry<T> | null = null;
  /** Tracks read ahead, in order: the next one, and more only past tracks already read to their end (short or failed ones). */
  const ahead: Entry<T>[] = [];
  let session: Subscription | null = null;
  let sessionStatus: PlaybackProgress['status'] = 'ended';
  let paused = false;
  let destroyed = false;
  /**
   * Events wait for the end of the clock tick (a microtask): a handler that calls `skip()`,
   * `pause()` or `destroy()` then acts between ticks, never in the middle of a send.
   */
  const deferred: PlayerEvent<T>[] = [];
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    while (deferred.length > 0) events.next(deferred.shift() as PlayerEvent<T>);
  };
  const emit = (event: PlayerEvent<T>): void => {
    deferred.push(event);
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flush);
    }
  };
  /** Where the last track ended, ms: the position reported until the next one starts. */
  let endedAtMs = 0;

  /** Starts reading `track` (from `seekMs` of it). */
  const open = (track: Track<T>, seekMs = 0): Entry<T> => {
    const source = typeof track.source === 'string' ? audioSourceOf(track.source, seekMs) : track.source;
    const entry: Entry<T> = {
      track,
      started: false,
      input: new BufferedInput(
        source,
        leadMs,
        maxBytes,
        () => {
          if (entry === current || ahead.includes(entry)) prefetch();
        },
        options.onWarning,
      ),
    };
    entry.input.baseMs = seekMs;
    entry.input.start();
    return entry;
  };
  /**
   * Reads the next track once the last one being read has been read to its end (so a short
   * or failed track never leaves the one after it unread when its turn comes).
   */
  const prefetch = (): void => {
    let last = ahead.length > 0 ? ahead[ahead.length - 1] : current;
    while (last?.input.ended && pending.length > 0 && ahead.length < MAX_AHEAD) {
      last = open(pending.shift() as Track<T>);
      ahead.push(last);
    }
  };
  const promote = (): void => {
    current = ahead.shift() ?? (pending.length > 0 ? open(pending.shift() as Track<T>) : null);
    prefetch();
  };
  const endCurrent = (reason: TrackEndReason, error?: unknown): void => {
    const c = current;
    if (!c) return;
    current = null;
    endedAtMs = c.input.positionMs;
    c.input.dispose();
    emit({ type: 'end', track: c.track, reason, positionMs: c.input.positionMs, ...(error !== undefined ? { error } : {}) });
  };
  const queueEmpty = (): boolean => current === null && ahead.length === 0 && pending.length === 0;

  const feed: PacketFeed = {
    start: () => undefined,
    peek() {
      if (current && !current.input.empty) return current.input.peek();
      if (current && !current.input.ended) return undefined;
      return ahead[0]?.input.peek();
    },
    shift() {
      for (;;) {
        if (!current) {
          promote();
          if (!current) return undefined;
        }
        const packet = current.input.shift();
        if (packet) {
          if (!current.started) {
            current.started = true;
            emit({ type: 'start', track: current.track });
          }
          return packet;
        }
        if (!current.input.ended) return undefined; // loading: the sink counts an underrun
        const error = current.input.error;
        endCurrent(error !== null ? 'failed' : 'finished', error ?? undefined);
      }
    },
    get ended() {
      return queueEmpty();
    },
    error: null,
    get bufferedMs() {
      return current?.input.bufferedMs ?? 0;
    },
    get droppedFrames() {
      return current?.input.droppedFrames ?? 0;
    },
    seek: (ms) => current?.input.seek(ms),
    stop: () => undefined, // the player's queue outlives a sink session
    dispose: () => undefined,
    ahead(skip, max) {
      // What `shift` would give, track after track (a track only once the one before has been read to its end).
      const packets: OpusPacket[] = [];
      let pos = 0;
      for (const e of current ? [current, ...ahead] : ahead) {
        const n = e.input.queued;
        if (skip < pos + n) packets.push(...e.input.ahead(Math.max(0, skip - pos), max - packets.length).packets);
        pos += n;
        if (!e.input.ended || packets.length >= max) return { packets, final: false };
      }
      return { packets, final: pending.length === 0 };
    },
    onDiscontinuity: null,
  };

  const startSession = (): void => {
    if (session || destroyed || queueEmpty()) return;
    let done = false;
    const sub = playFeed(conn, () => feed, { ...options, control }).subscribe({
      next: (p) => {
        sessionStatus = p.status;
        progress.next({ ...p, positionMs: current?.input.positionMs ?? endedAtMs });
      },
      error: (err: unknown) => {
        done = true;
        session = null;
        sessionStatus = 'ended';
        fail(err);
      },
      complete: () => {
        done = true;
        session = null;
        sessionStatus = 'ended';
        if (!queueEmpty()) startSession();
        else emit({ type: 'idle' });
      },
    });
    if (!done) {
      session = sub;
      if (paused) control.pause();
    }
  };

  const releaseAll = (): void => {
    pending.length = 0;
    for (const e of ahead) e.input.dispose();
    ahead.length = 0;
  };

  const fail = (err: unknown): void => {
    if (destroyed) return;
    destroyed = true; // first: handlers of the events below cannot enqueue into a dead player
    const error = err instanceof RxVoiceError ? err : new RxVoiceError('CONNECTION_CLOSED', 'the player stopped: the voice connection ended', { cause: err });
    releaseAll();
    endCurrent('failed', error);
    inputs.unsubscribe();
    emit({ type: 'error', error });
    flush();
    events.complete();
    progress.complete();
  };

  const normalize = (input: TrackInput<T>): Track<T> => {
    if (typeof input === 'string') return { source: input, title: input };
    if (isObservable(input)) return { source: input, title: 'stream' };
    return input.title !== undefined ? input : { ...input, title: typeof input.source === 'string' ? input.source : 'stream' };
  };

  const enqueue = (...tracks: TrackInput<T>[]): void => {
    if (destroyed) return;
    for (const t of tracks) pending.push(normalize(t));
    if (!current) promote(); // the first track starts loading now
    else prefetch();
    startSession();
  };

  return {
    enqueue,
    play(tracks$) {
      const sub = tracks$.subscribe({ next: (t) => enqueue(t) });
      inputs.add(sub);
      return sub;
    },
    skip() {
      if (destroyed) return;
      if (!current) promote(); // nothing has started yet: the first queued track is the current one
      endCurrent('skipped');
      promote();
      feed.onDiscontinuity?.();
      if (queueEmpty()) control.stop();
    },
    stop() {
      if (destroyed) return;
      releaseAll();
      endCurrent('stopped');
      paused = false;
      control.stop();
    },
    pause() {
      if (destroyed || paused) return;
      paused = true;
      control.pause();
    },
    resume() {
      if (destroyed || !paused) return;
      paused = false;
      control.resume();
    },
    seek(positionMs) {
      if (destroyed) return;
      if (!Number.isFinite(positionMs) || positionMs < 0) {
        throw new RxVoiceError('INVALID_ARGUMENT', `player.seek: positionMs must be a finite number ≥ 0, got ${positionMs}`);
      }
      if (!current) promote();
      const c = current;
      if (!c) return;
      if (typeof c.track.source === 'string') {
        // A path or URL: read it again from there (ffmpeg's input seek), whether or not it was read to its end.
        c.input.dispose();
        const reopened = open(c.track, positionMs);
        reopened.started = c.started;
        current = reopened;
        prefetch();
      } else {
        c.input.seek(positionMs); // a demand seek request (rxvoice's sources honour it)
      }
      feed.onDiscontinuity?.();
    },
    get state(): PlayerState<T> {
      const queue = [...ahead.map((e) => e.track), ...pending];
      const track = current?.track ?? null;
      const status: PlayerState['status'] =
        queueEmpty() && !session ? 'idle' : paused ? 'paused' : sessionStatus === 'playing' && current?.started ? 'playing' : 'buffering';
      return { status, track, positionMs: current?.input.positionMs ?? 0, queue };
    },
    events$: events.asObservable(),
    progress$: progress.asObservable(),
    destroy() {
      if (destroyed) return;
      destroyed = true; // first: handlers of the events below cannot enqueue into a dead player
      releaseAll();
      endCurrent('stopped');
      inputs.unsubscribe();
      session?.unsubscribe();
      session = null;
      flush();
      events.complete();
      progress.complete();
    },
  };
}

/** A path or URL as Opus packets (from `seekMs`); a bad argument becomes the track's failure, not a throw. */
function audioSourceOf(path: string, seekMs: number): Observable<OpusPacket> {
  return defer(() => audioSource(path, seekMs > 0 ? { seekMs } : {}));
}
