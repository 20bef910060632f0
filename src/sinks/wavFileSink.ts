import type { OperatorFunction } from 'rxjs';
import { RxVoiceError } from '../errors';
import type { PcmFrame } from '../core/audioFormat';
import { WAV_MAX_DATA_BYTES, wavHeader } from '../core/wavHeader';
import { runFileSink, type FileSinkFormat } from './internal/fileSink';

/** Options of {@link wavFileSink}. */
export interface WavFileSinkOptions {
  /** Samples per second per channel of the incoming PCM, Hz. Default 48000. */
  sampleRate?: number;
  /** Interleaved channels of the incoming PCM. Default 2. */
  channels?: number;
}

/** What {@link wavFileSink} emits once the file is complete and closed. */
export interface WavFileResult {
  /** The path written, as given. */
  path: string;
  /** Size of the file, bytes (the 44-byte header plus the PCM). */
  bytes: number;
  /** PCM buffers written (20 ms frames for rxvoice's own sources). */
  frames: number;
  /** Duration of the PCM written, ms (`pcmBytes / (sampleRate × channels × 2) × 1000`, not rounded). */
  durationMs: number;
}

/**
 * Streams s16le PCM frames into a WAV file (canonical 44-byte RIFF/WAVE header, 16-bit
 * integer PCM) without holding the recording in memory: the header is written first with
 * zero sizes, each frame is appended as it arrives, and when the input ends the header is
 * rewritten in place with the real RIFF and `data` sizes.
 *
 * Backpressure: the sink subscribes upstream inside `withDemand` with its own
 * `SinkDemand` (lead 1000 ms) and advances it by each frame's duration once the file's
 * write stream has accepted it without exceeding its high-water mark (otherwise on the
 * next `'drain'`), so a demand-aware source — e.g. an ffmpeg transcode — runs at disk
 * speed with bounded memory. Sources that ignore demand are written as fast as they emit;
 * the write stream then buffers what the disk has not taken yet.
 *
 * Emits exactly one {@link WavFileResult} — after the upstream completed, the header was
 * patched and the file was closed — and then completes.
 *
 * Errors (the file is truncated to what arrived, and is a valid WAV whenever it could be
 * written at all):
 * - the upstream errors → the header is finalized, then that same error is re-emitted;
 * - a frame whose length is not a whole number of `channels × 2`-byte sample frames →
 *   `RxVoiceError` `INVALID_ARGUMENT` (after finalizing what came before it);
 * - more PCM than a RIFF file can describe (≈ 4 GiB, 6.2 h at 48 kHz stereo) →
 *   `RxVoiceError` `SINK_FAILED` (the first 4 GiB are kept);
 * - a file-system error (cannot create the file, disk full, …) → `RxVoiceError`
 *   `SINK_FAILED` with the Node error as `cause`; the upstream is unsubscribed.
 *
 * Unsubscribing before completion unsubscribes the upstream and still finalizes the file
 * (asynchronously; no result is emitted). The file is created (truncated) on subscribe.
 *
 * @param path file to create or overwrite.
 * @param options `sampleRate` (Hz, default 48000) and `channels` (default 2) of the PCM;
 *   they only go into the header — the sink does not resample.
 * @returns an operator from PCM frames (`Buffer`s, s16le interleaved) to one result.
 * @throws {RxVoiceError} `INVALID_ARGUMENT`, synchronously, when `sampleRate` is not an
 *   integer in 1…2³²−1 or `channels` is not an integer in 1…65535.
 *
 * @example
 * ```ts
 * speaker.pcm$.pipe(
 *   takeUntil(stop$),
 *   wavFileSink('recording.wav'),
 * ).subscribe(({ path, durationMs }) => console.log(`saved ${durationMs} ms to ${path}`));
 * ```
 */
export function wavFileSink(path: string, options: WavFileSinkOptions = {}): OperatorFunction<PcmFrame, WavFileResult> {
  const { sampleRate = 48000, channels = 2 } = options;
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `wavFileSink: sampleRate must be an integer in 1…4294967295 Hz, got ${sampleRate}`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `wavFileSink: channels must be an integer in 1…65535, got ${channels}`);
  }
  const blockAlign = channels * 2;
  const bytesPerMs = (sampleRate * blockAlign) / 1000;

  return (source) =>
    runFileSink(source, path, (): FileSinkFormat<PcmFrame, WavFileResult> => {
      // Per subscription: each subscriber writes (and overwrites) the file on its own.
      let dataBytes = 0;
      let frames = 0;
      return {
        name: 'wavFileSink',
        header: () => [wavHeader(0, sampleRate, channels)],
        accept: (frame) => {
          if (frame.length % blockAlign !== 0) {
            throw new RxVoiceError(
              'INVALID_ARGUMENT',
              `wavFileSink: a frame of ${frame.length} bytes is not a whole number of ${blockAlign}-byte sample frames`,
            );
          }
          if (dataBytes + frame.length > WAV_MAX_DATA_BYTES) {
            throw new RxVoiceError('SINK_FAILED', `wavFileSink: ${path} reached the 4 GiB size limit of a WAV file`);
          }
          dataBytes += frame.length;
          frames++;
          return { chunks: [frame], ms: frame.length / bytesPerMs };
        },
        trailer: () => [],
        patches: () => [{ position: 0, bytes: wavHeader(dataBytes, sampleRate, channels) }],
        result: (fileBytes) => ({ path, bytes: fileBytes, frames, durationMs: dataBytes / bytesPerMs }),
      };
    });
}
