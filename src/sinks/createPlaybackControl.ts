import { BehaviorSubject, Subject, type Observable } from 'rxjs';

/** A command for a playing stream. */
export type PlaybackCommand =
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  /** Continue from `positionMs` of the input (sources that can seek, e.g. `ffmpegSource`). */
  | { type: 'seek'; positionMs: number };

/** Controls a playing `voiceSink`: pause, resume, stop, seek. */
export interface PlaybackControl {
  /** Stops sending after 5 silence frames (speaking off); the source is held, not read further. */
  pause(): void;
  resume(): void;
  /** Ends playback: 5 silence frames, speaking off, the sink completes. */
  stop(): void;
  /** Jumps to `positionMs` of the input; frames already buffered are dropped. */
  seek(positionMs: number): void;
  /** Whether paused now, replayed. */
  readonly paused$: Observable<boolean>;
  /** Commands, for sinks. */
  readonly commands$: Observable<PlaybackCommand>;
}

/**
 * Creates a {@link PlaybackControl} to pass to `voiceSink(conn, { control })`.
 *
 * @example
 * ```ts
 * const control = createPlaybackControl();
 * ffmpegSource('song.mp3').pipe(opusEncode(), voiceSink(conn, { control })).subscribe();
 * control.pause(); control.resume(); control.seek(90_000); control.stop();
 * ```
 */
export function createPlaybackControl(): PlaybackControl {
  const commands = new Subject<PlaybackCommand>();
  const paused = new BehaviorSubject(false);
  return {
    pause() {
      paused.next(true);
      commands.next({ type: 'pause' });
    },
    resume() {
      paused.next(false);
      commands.next({ type: 'resume' });
    },
    stop: () => commands.next({ type: 'stop' }),
    seek: (positionMs) => commands.next({ type: 'seek', positionMs: Math.max(0, positionMs) }),
    paused$: paused.asObservable(),
    commands$: commands.asObservable(),
  };
}
