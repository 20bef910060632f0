import type { Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import type { RxVoiceError } from '../errors';

/** One entry of a player's queue. */
export interface Track<T = unknown> {
  /**
   * What to play: a file path or URL (played with `audioSource`: Ogg/WebM Opus pass through,
   * anything else is transcoded by ffmpeg), or any observable of 20 ms Opus packets (e.g.
   * `ffmpegSource(f).pipe(volume(0.5), opusEncode())`). Seeking reaches the source as a
   * demand seek request (rxvoice's file sources honour it).
   */
  readonly source: string | Observable<OpusPacket>;
  /** For your UI and logs. Default: the path, or `'stream'`. */
  readonly title?: string;
  /** Anything you want back in the events (requester, URL, …). */
  readonly data?: T;
}

/** What a player accepts: a path or URL, an observable of Opus packets, or a {@link Track}. */
export type TrackInput<T = unknown> = string | Observable<OpusPacket> | Track<T>;

/** Why a track ended. */
export type TrackEndReason =
  /** It played to its end. */
  | 'finished'
  /** `skip()`. */
  | 'skipped'
  /** `stop()`, or the player was destroyed. */
  | 'stopped'
  /** Its source failed (`error` says why); the queue goes on with the next track. */
  | 'failed';

/**
 * What a player reports, in playback order (as heard, not as read ahead).
 *
 * - `start`: the track's first packet was sent (a track that fails before producing any
 *   audio has no `start`, only its `end`).
 * - `end`: the track's last packet was sent (`finished`, `failed`), or it was cut
 *   (`skipped`, `stopped`); `positionMs` is where it ended, ms of the track.
 * - `idle`: the queue ran out; speaking went off after the trailing silence frames.
 * - `error`: the voice connection was destroyed or gave up (`RxVoiceError` code
 *   `CONNECTION_CLOSED`, its `cause` the connection's error); the player is done and
 *   `events$` completes after it. Emitted once.
 */
export type PlayerEvent<T = unknown> =
  | { readonly type: 'start'; readonly track: Track<T> }
  | { readonly type: 'end'; readonly track: Track<T>; readonly reason: TrackEndReason; readonly positionMs: number; readonly error?: unknown }
  | { readonly type: 'idle' }
  | { readonly type: 'error'; readonly error: RxVoiceError };

/** A player's state (`player.state`). */
export interface PlayerState<T = unknown> {
  /**
   * `idle`: nothing to play. `playing`: sending audio. `buffering`: a track is loading, or
   * the connection is not ready. `paused`: `pause()`d (a track stays loaded).
   */
  readonly status: 'idle' | 'playing' | 'buffering' | 'paused';
  /** The track being played (the one whose packets are sent now), or null. */
  readonly track: Track<T> | null;
  /** Position in the current track, ms (starts at 0 for each track; follows seeks). */
  readonly positionMs: number;
  /** Tracks after the current one, in order. */
  readonly queue: readonly Track<T>[];
}
