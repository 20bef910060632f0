import { RxVoiceError } from '../errors';

/** Codes of {@link AudioSourceError}. */
export type AudioSourceErrorCode =
  /** The input could not be read or decoded: ffmpeg exited non-zero or was killed, a file could not be opened, an input stream errored. */
  | 'SOURCE_FAILED'
  /** The input is malformed or not what the source expects (e.g. not an Ogg/WebM Opus stream). */
  | 'SOURCE_CORRUPT';

/**
 * Why an audio source gave up. Emitted as the error notification of `ffmpegSource`,
 * `oggOpusSource`, `webmOpusSource`, `pcmSource` and `audioSource` — never thrown from a
 * stream callback, so a bad input cannot crash the process.
 *
 * @example
 * ffmpegSource('broken.mp3').subscribe({
 *   error: (err) => {
 *     if (err instanceof AudioSourceError) console.log(err.code, err.stderrTail);
 *   },
 * });
 */
export class AudioSourceError extends RxVoiceError<AudioSourceErrorCode> {
  /** The last lines ffmpeg wrote to stderr (at most a few hundred characters), when ffmpeg was involved. */
  readonly stderrTail: string | null;
  /** ffmpeg's exit code, when it exited on its own; null otherwise. */
  readonly exitCode: number | null;

  constructor(
    code: AudioSourceErrorCode,
    message: string,
    options: { cause?: unknown; stderrTail?: string | null; exitCode?: number | null } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.stderrTail = options.stderrTail ?? null;
    this.exitCode = options.exitCode ?? null;
  }
}
