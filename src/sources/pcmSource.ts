import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import { FRAME_MS } from '../core/audioFormat';
import { RxVoiceError } from '../errors';
import { AudioSourceError } from './AudioSourceError';
import { byteFramer } from './internal/byteFramer';
import { gatedStream } from './internal/gatedStream';

/** Options of {@link pcmSource}: the format of the input stream. */
export interface PcmSourceOptions {
  /** Samples per second per channel, Hz; a multiple of 50 (so 20 ms is whole samples). Default 48000. */
  sampleRate?: number;
  /** Interleaved channels, 1–8. Default 2. */
  channels?: number;
}

/**
 * Cuts a stream of raw PCM (signed 16-bit little-endian, interleaved) into 20 ms frames
 * **in the input's own format**: each frame is a fresh `Buffer` of
 * `sampleRate / 50 × channels × 2` bytes (3840 at the 48 kHz stereo default); the last
 * partial frame is zero-padded. Only 48 kHz stereo input yields rxvoice PCM frames
 * directly; pipe anything else through rxvoice's `resample` operator to get them.
 *
 * **Demand.** Inside a sink's `withDemand` it emits at most `leadMs` ahead of the
 * consumer and `pause()`s the stream meanwhile (resuming on `changes$`), so a fast stream
 * is read only as fast as it is played. Seek requests are ignored (a stream cannot rewind).
 *
 * Completes when the stream ends and every frame was emitted. Errors with
 * `AudioSourceError` `SOURCE_FAILED` when the stream errors, emits non-byte chunks, or had
 * already ended or been destroyed. The source owns `readable`: unsubscribing destroys it,
 * and it can be subscribed only once.
 *
 * @param readable a byte stream of s16le PCM (e.g. a file stream, a socket, ffmpeg's stdout).
 * @param options `sampleRate` (Hz, default 48000), `channels` (default 2).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` (at call time) on a sample rate that is not a
 *   positive multiple of 50 or a channel count outside 1–8.
 *
 * @example
 * // Raw 48 kHz stereo PCM from a file, 3840-byte frames.
 * pcmSource(fs.createReadStream('voice.pcm')).subscribe((frame) => console.log(frame.length));
 */
export function pcmSource(readable: Readable, options: PcmSourceOptions = {}): Observable<Buffer> {
  const { sampleRate = 48000, channels = 2 } = options;
  if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate % 50 !== 0) {
    throw new RxVoiceError('INVALID_ARGUMENT', `pcmSource: sampleRate must be a positive multiple of 50 Hz, got ${sampleRate}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) {
    throw new RxVoiceError('INVALID_ARGUMENT', `pcmSource: channels must be an integer in 1..8, got ${channels}`);
  }
  const frameBytes = (sampleRate / 50) * channels * 2;
  return new Observable<Buffer>((subscriber) => {
    if (readable.readableEnded || readable.destroyed) {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', 'pcmSource: the stream has already ended or been destroyed'));
      return;
    }
    const frames = gatedStream(readable, byteFramer(frameBytes, FRAME_MS), {
      mapError: (err) =>
        new AudioSourceError('SOURCE_FAILED', `pcmSource: the input stream failed: ${errorMessage(err)}`, { cause: err }),
    }).subscribe({
      next: (frame) => subscriber.next(frame),
      error: (err: unknown) => subscriber.error(err),
      complete: () => subscriber.complete(),
    });
    return () => {
      frames.unsubscribe();
      readable.on('error', () => {}); // a late error of the destroyed stream must not crash
      readable.destroy();
    };
  });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
