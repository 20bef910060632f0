import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import { FRAME_MS, PCM_FRAME_BYTES, type PcmFrame } from '../../core/audioFormat';
import type { FrameDemand } from '../../core/FrameDemand';
import { AudioSourceError } from '../AudioSourceError';
import { FfmpegNotFoundError } from '../FfmpegNotFoundError';
import { byteFramer } from './byteFramer';
import { gatedStream } from './gatedStream';
import { TextTail } from './TextTail';

/** Time ffmpeg gets to exit after SIGTERM before SIGKILL, ms. */
export const KILL_GRACE_MS = 1000;
/** Lines of ffmpeg's stderr quoted in an {@link AudioSourceError}. */
const STDERR_LINES = 6;

const noop = (): void => {};

/** Options of {@link ffmpegFrames}. */
export interface FfmpegFramesOptions {
  /** The ffmpeg executable. */
  ffmpegPath: string;
  /** Full argument list; output must be s16le 48 kHz stereo on `pipe:1`. */
  args: readonly string[];
  /** Piped to ffmpeg's stdin (the args read `pipe:0`); destroyed on unsubscribe. */
  stdin: Readable | null;
  /** Demand to honour (the owning source's gate). */
  demand: FrameDemand | null;
}

/**
 * One ffmpeg run as PCM frames: spawns on subscribe, frames stdout through
 * {@link gatedStream}, completes once stdout is drained AND ffmpeg exited with code 0.
 * Errors with {@link FfmpegNotFoundError} when the executable cannot be spawned
 * (ENOENT/EACCES) and {@link AudioSourceError} `SOURCE_FAILED` (with stderr's last lines)
 * on a non-zero exit, a signal, or a failing stdin stream. Unsubscribing kills ffmpeg
 * (SIGTERM, SIGKILL after {@link KILL_GRACE_MS}) and removes its listeners once it exited;
 * no-op `'error'` listeners stay on its pipes so a late EPIPE cannot crash the process.
 */
export function ffmpegFrames(options: FfmpegFramesOptions): Observable<PcmFrame> {
  const { ffmpegPath, args, stdin, demand } = options;
  return new Observable<PcmFrame>((subscriber) => {
    let child: ChildProcess;
    try {
      child = spawn(ffmpegPath, args, {
        stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
        windowsHide: true,
      });
    } catch (err) {
      // spawn throws synchronously only for bad arguments (e.g. a NUL byte in a path).
      subscriber.error(new AudioSourceError('SOURCE_FAILED', `could not start ffmpeg: ${String(err)}`, { cause: err }));
      return;
    }
    const stdout = child.stdout as Readable;
    const stderr = child.stderr as Readable;
    const stderrTail = new TextTail();
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let framesDone = false;
    let killTimer: NodeJS.Timeout | undefined;

    // Never let a pipe error (EPIPE when ffmpeg exits early, ECONNRESET) become an uncaught exception.
    stdout.on('error', noop);
    stderr.on('error', noop);
    child.stdin?.on('error', noop);

    const onStderr = (chunk: Buffer): void => stderrTail.push(chunk);
    const settle = (): void => {
      if (!framesDone || exit === null || subscriber.closed) return;
      if (exit.code === 0) {
        subscriber.complete();
        return;
      }
      const tail = stderrTail.lastLines(STDERR_LINES);
      const how = exit.code !== null ? `exited with code ${exit.code}` : `was killed by ${exit.signal}`;
      subscriber.error(
        new AudioSourceError('SOURCE_FAILED', `ffmpeg ${how}${tail ? `:\n${tail}` : ' (no error output)'}`, {
          stderrTail: tail,
          exitCode: exit.code,
        }),
      );
    };
    const onSpawnError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'ENOENT' || err.code === 'EACCES') {
        subscriber.error(
          new FfmpegNotFoundError(
            `could not run ffmpeg at ${JSON.stringify(ffmpegPath)} (${err.code}); install ffmpeg, ` +
              'set FFMPEG_PATH to an ffmpeg executable, or `npm install @ffmpeg-installer/ffmpeg`',
            { cause: err },
          ),
        );
      } else {
        subscriber.error(new AudioSourceError('SOURCE_FAILED', `ffmpeg failed: ${err.message}`, { cause: err }));
      }
    };
    const onClose = (code: number | null, signal: NodeJS.Signals | null): void => {
      exit = { code, signal };
      clearTimeout(killTimer);
      child.off('error', onSpawnError);
      child.off('close', onClose);
      child.on('error', noop);
      stderr.off('data', onStderr);
      settle();
    };
    const onInputError = (err: Error): void => {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', `the input stream failed: ${err.message}`, { cause: err }));
    };

    stderr.on('data', onStderr);
    child.on('error', onSpawnError);
    child.on('close', onClose);
    if (stdin && child.stdin) {
      stdin.on('error', onInputError);
      stdin.pipe(child.stdin);
    }

    const frames = gatedStream(stdout, byteFramer(PCM_FRAME_BYTES, FRAME_MS), {
      demand,
      mapError: (err) =>
        new AudioSourceError('SOURCE_FAILED', `reading ffmpeg's output failed: ${String(err)}`, { cause: err }),
    }).subscribe({
      next: (frame) => subscriber.next(frame),
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        framesDone = true;
        settle();
      },
    });

    return () => {
      frames.unsubscribe();
      if (stdin) {
        if (child.stdin) stdin.unpipe(child.stdin);
        stdin.off('error', onInputError);
        stdin.on('error', noop);
        stdin.destroy();
      }
      child.stdin?.destroy();
      stdout.destroy();
      if (exit === null && child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        killTimer = setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      }
    };
  });
}
