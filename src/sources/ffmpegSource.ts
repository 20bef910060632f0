import type { Readable } from 'node:stream';
import { Observable, type Subscription } from 'rxjs';
import { CHANNELS, FRAME_MS, SAMPLE_RATE, type PcmFrame } from '../core/audioFormat';
import { DemandGate } from '../core/FrameDemand';
import { setFrameMediaMs } from '../core/mediaTime';
import { RxVoiceError } from '../errors';
import { AudioSourceError } from './AudioSourceError';
import { findFfmpeg } from './findFfmpeg';
import { ffmpegFrames } from './internal/ffmpegFrames';

/** Options of {@link ffmpegSource}. */
export interface FfmpegSourceOptions {
  /** Start position in the input, ms (input seek, `-ss` before `-i`; sample-accurate). Default 0. */
  seekMs?: number;
  /** An ffmpeg audio filter chain passed as `-af`, e.g. `'volume=0.5,atempo=1.25'`. */
  filters?: string;
  /** Extra input arguments, placed just before `-i` (e.g. `['-f', 'lavfi']`, `['-reconnect', '1']`). */
  args?: readonly string[];
  /** The ffmpeg executable. Default {@link findFfmpeg}`()`. */
  ffmpegPath?: string;
  /**
   * For a network URL (`http(s)://`, `rtmp://`, …): a read that gets no data for this long
   * ends the input (ffmpeg's `-rw_timeout`), so a stalled server ends the source instead of
   * hanging: ffmpeg 4.1 and 5.1 take it as the end of the input (the source completes with
   * what came), others fail (`SOURCE_FAILED`). ms, 1–3600000; default 30000. A `-rw_timeout`
   * in `args` wins.
   */
  readTimeoutMs?: number;
}

/** Default {@link FfmpegSourceOptions.readTimeoutMs}, ms. */
const DEFAULT_READ_TIMEOUT_MS = 30_000;
const isNetworkUrl = (input: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(input) && !/^file:/i.test(input);

/**
 * Decodes anything ffmpeg reads into 20 ms PCM frames: each a 3840-byte `Buffer`,
 * s16le 48 kHz stereo (see `audioFormat`); the last frame is zero-padded to full size.
 *
 * `input` is a path or URL ffmpeg opens itself, or a `Readable` of the encoded file that
 * is piped to ffmpeg's stdin (the source then owns it: it is destroyed on unsubscribe, and
 * can be subscribed only once). For a string the observable is cold: every subscription
 * spawns its own ffmpeg.
 *
 * **Demand.** Subscribed inside a sink's `withDemand`, it emits at most the demand's
 * `leadMs` ahead of what the sink consumed, then pauses ffmpeg's stdout until `changes$`
 * — the pipe fills and ffmpeg blocks — so a one-hour file is decoded only about `leadMs`
 * ahead and memory stays bounded. Without a demand it emits as fast as ffmpeg decodes.
 * **Seek.** On `demand.seek$` (ms from the start of the input) it kills the running ffmpeg
 * and starts a new one at `-ss <ms>`, restarts its lead from the consumer's current
 * position, and continues with frames from the new position. A `Readable` input cannot be
 * rewound: its seek requests are ignored. Every frame is tagged with its position in the
 * input (`frameMediaMs`: the start position + 20 ms per frame), so that positions stay on
 * the input's timeline through `timescale`.
 *
 * Completes when ffmpeg exited with code 0 and every frame was emitted. Errors with
 * `FfmpegNotFoundError` (`FFMPEG_NOT_FOUND`) when there is no ffmpeg, and with
 * `AudioSourceError` (`SOURCE_FAILED`, carrying the last lines of ffmpeg's stderr) when
 * ffmpeg fails (missing or corrupt file, unsupported format) or the input stream errors.
 * Unsubscribing kills ffmpeg (SIGTERM, then SIGKILL after 1 s).
 *
 * @param input a file path, a URL (any protocol ffmpeg supports), or a `Readable` of encoded audio.
 * @param options `seekMs`, `filters` (`-af` chain), `args` (extra input args), `ffmpegPath`.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` (synchronously, at call time) on a negative or
 *   non-finite `seekMs`, or a `readTimeoutMs` outside 1–3600000.
 *
 * @example
 * // An mp3 at half volume, from 1:30, as 3840-byte PCM frames.
 * ffmpegSource('song.mp3', { seekMs: 90_000, filters: 'volume=0.5' }).subscribe({
 *   next: (frame) => speaker.write(frame),
 *   error: (err) => console.error(err.code, err.message), // FFMPEG_NOT_FOUND | SOURCE_FAILED
 * });
 */
export function ffmpegSource(input: string | Readable, options: FfmpegSourceOptions = {}): Observable<PcmFrame> {
  const { seekMs = 0, readTimeoutMs = DEFAULT_READ_TIMEOUT_MS } = options;
  if (!Number.isFinite(seekMs) || seekMs < 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `ffmpegSource: seekMs must be a finite number ≥ 0 (ms), got ${seekMs}`);
  }
  if (!Number.isInteger(readTimeoutMs) || readTimeoutMs < 1 || readTimeoutMs > 3_600_000) {
    throw new RxVoiceError('INVALID_ARGUMENT', `ffmpegSource: readTimeoutMs must be an integer in 1..3600000 (ms), got ${readTimeoutMs}`);
  }
  return new Observable<PcmFrame>((subscriber) => {
    if (typeof input !== 'string' && (input.readableEnded || input.destroyed)) {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', 'ffmpegSource: the input stream has already ended or been destroyed'));
      return;
    }
    const gate = new DemandGate(subscriber);
    let run: Subscription | undefined;

    const start = (positionMs: number): void => {
      let ffmpegPath: string;
      try {
        ffmpegPath = options.ffmpegPath ?? findFfmpeg();
      } catch (err) {
        subscriber.error(err);
        return;
      }
      const stdin = typeof input === 'string' ? null : input;
      const args = ffmpegArgs(typeof input === 'string' ? input : null, positionMs, options);
      let frames = 0;
      run = ffmpegFrames({ ffmpegPath, args, stdin, demand: gate }).subscribe({
        next: (frame) => {
          setFrameMediaMs(frame, positionMs + FRAME_MS * frames++);
          gate.emit(subscriber, frame);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    };

    const seeks =
      typeof input === 'string'
        ? gate.seek$.subscribe((positionMs) => {
            run?.unsubscribe();
            start(Number.isFinite(positionMs) ? Math.max(0, positionMs) : 0);
          })
        : undefined;
    start(seekMs);

    return () => {
      seeks?.unsubscribe();
      run?.unsubscribe();
      gate.dispose();
    };
  });
}

/** ffmpeg's argument list: quiet, input options, input, decode to s16le 48 kHz stereo on stdout. */
function ffmpegArgs(path: string | null, seekMs: number, options: FfmpegSourceOptions): string[] {
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    ...(path !== null ? ['-nostdin'] : []),
    ...(seekMs > 0 ? ['-ss', (seekMs / 1000).toFixed(3)] : []),
    ...(path !== null && isNetworkUrl(path) && !(options.args ?? []).includes('-rw_timeout')
      ? ['-rw_timeout', String((options.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS) * 1000)]
      : []),
    ...(options.args ?? []),
    '-i',
    path ?? 'pipe:0',
    '-vn',
    ...(options.filters ? ['-af', options.filters] : []),
    '-f',
    's16le',
    '-ar',
    String(SAMPLE_RATE),
    '-ac',
    String(CHANNELS),
    'pipe:1',
  ];
}
