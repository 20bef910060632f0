import type { OperatorFunction } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import type { VoiceConnection } from '../gateway/connectVoice';
import { BufferedInput } from './internal/BufferedInput';
import { playFeed, type PlaybackProgress, type PlayFeedOptions } from './internal/playFeed';

export type { PlaybackProgress } from './internal/playFeed';

/** Default memory bound of a sink's queue: Opus payload bytes (≈ 45 min of 96 kb/s audio). */
export const DEFAULT_MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

/** Options of {@link voiceSink}. */
export interface VoiceSinkOptions extends PlayFeedOptions {
  /** How far sources may read ahead of what was sent, ms. Default 1000. */
  leadMs?: number;
  /**
   * Memory bound of the queue, in Opus payload bytes: only a source that ignores demand can
   * reach it; above it the oldest frames are dropped and counted (`droppedFrames`).
   * Default {@link DEFAULT_MAX_BUFFERED_BYTES} (32 MiB).
   */
  maxBufferedBytes?: number;
}

/**
 * Plays Opus packets into a voice connection: paces them on the shared 20 ms clock,
 * adds RTP headers (sequence, timestamp, SSRC), encrypts them with the connection's
 * transport cipher and sends them on its UDP socket. SPEAKING goes on at the first frame
 * and off after 5 silence frames at the end, on pause and on stop.
 *
 * **Demand.** Sources read at most `leadMs` ahead of what was sent, however they are
 * composed: `concat`, `concatMap`/`switchMap` over a queue, `defer`, `repeat`, `mix`, your own
 * synchronous operators in between (see `FrameDemand`); they pause while the sink is
 * paused. **Nothing is dropped silently**: frames from a source that ignores demand (a hot
 * `Subject`, an `observeOn` in between) are all kept, with one warning
 * (`RXVOICE_NO_DEMAND`, to `onWarning` or `process.emitWarning`); only above `maxBufferedBytes` are the oldest dropped, and counted
 * in `droppedFrames`.
 *
 * **One stream per connection.** The RTP sequence, timestamp and nonce counter belong to
 * the connection: a second sink on it continues them. Sinks on one connection are
 * serialized: one subscribed while another plays reports `status: 'queued'` (reading its
 * source ahead meanwhile) and starts after the first has ended. To play several streams
 * at once, `mix` them; for a queue of tracks with skip and per-track events, use
 * `createPlayer`.
 *
 * After an event-loop stall the missed frames are not burst out: the next frame goes at the
 * next tick, the RTP timestamp skips the gap, and the ticks are counted in `framesLate`.
 * While the connection is not ready (e.g. resuming, moving) frames wait
 * (`status: 'buffering'`).
 *
 * Emits {@link PlaybackProgress} every `progressEveryMs` of audio and on status changes;
 * the last emission has `status: 'ended'`, then it completes. Errors when the source
 * errors (after the frames queued before the error and the trailing silence frames) or when
 * the connection is destroyed or gives up (`RxVoiceError` code `CONNECTION_CLOSED`).
 * Unsubscribing stops at once.
 *
 * @example
 * ```ts
 * ffmpegSource('song.mp3').pipe(opusEncode(), voiceSink(conn)).subscribe((p) => console.log(p.positionMs));
 * ```
 */
export function voiceSink(conn: VoiceConnection, options: VoiceSinkOptions = {}): OperatorFunction<OpusPacket, PlaybackProgress> {
  const leadMs = options.leadMs ?? 1000;
  const maxBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  return (source) => playFeed(conn, () => new BufferedInput(source, leadMs, maxBytes, undefined, options.onWarning), options);
}
