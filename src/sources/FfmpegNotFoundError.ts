import { RxVoiceError } from '../errors';

/**
 * No usable ffmpeg executable: `FFMPEG_PATH` (or an explicit `ffmpegPath` option) names a
 * file that does not exist or cannot be executed, or none was found on `PATH` nor in the
 * optional `@ffmpeg-installer/ffmpeg` package. Thrown by {@link findFfmpeg}; emitted as
 * the error notification of `ffmpegSource` and `audioSource` (never thrown from
 * `subscribe`). The message says how to fix it.
 *
 * @example
 * ffmpegSource('song.mp3').subscribe({
 *   error: (err) => {
 *     if (err instanceof FfmpegNotFoundError) console.error(err.message); // "install ffmpeg, …"
 *   },
 * });
 */
export class FfmpegNotFoundError extends RxVoiceError<'FFMPEG_NOT_FOUND'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('FFMPEG_NOT_FOUND', message, options);
  }
}
