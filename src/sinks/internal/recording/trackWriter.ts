import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { OpusEncoder } from '@discordjs/opus';
import { lastValueFrom, Subject, type Observable, type OperatorFunction } from 'rxjs';
import { CHANNELS, OPUS_SILENCE_FRAME, PCM_FRAME_BYTES, SAMPLE_RATE } from '../../../core/audioFormat';
import { RxVoiceError } from '../../../errors';
import { findFfmpeg } from '../../../sources/findFfmpeg';
import { oggOpusFileSink } from '../../oggOpusFileSink';
import { wavFileSink } from '../../wavFileSink';

/** File formats of a recording. */
export type RecordingFormat = 'wav' | 'flac' | 'ogg';

/** A finished file. */
export interface WrittenTrack {
  path: string;
  /** Size on disk, bytes. */
  bytes: number;
  /** Audio written, ms. */
  durationMs: number;
}

/**
 * One file of a recording, fed one 20 ms slot at a time. Internal to `recordVoiceChannel`.
 * `write` never throws: a failure (unwritable file, disk full, ffmpeg exiting) goes to
 * `onError` once, as `RxVoiceError` `SINK_FAILED`, and later writes are ignored.
 */
export interface TrackWriter {
  readonly path: string;
  /** Bytes handed to the file so far (PCM for WAV and FLAC, Opus packets for Ogg). */
  readonly bytes: number;
  /**
   * One slot: its decoded PCM (3840 bytes) and, for a user's Ogg track, the received Opus
   * packet (`null` for a slot without one: an Opus silence frame goes there).
   */
  write(pcm: Buffer, opus: Buffer | null): void;
  /** `slots` slots of silence (written in chunks of up to 1 s: a late joiner's hour of silence is a few thousand writes). */
  writeSilence(slots: number): void;
  /** Ends the file (headers patched, flushed, closed). Rejects with `SINK_FAILED`. */
  end(): Promise<WrittenTrack>;
}

function sinkFailed(path: string, cause: unknown): RxVoiceError<'SINK_FAILED'> {
  if (cause instanceof RxVoiceError && cause.code === 'SINK_FAILED') return cause as RxVoiceError<'SINK_FAILED'>;
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new RxVoiceError('SINK_FAILED', `recordVoiceChannel: writing ${path} failed: ${detail}`, { cause });
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Up to 1 s of zero PCM, shared (writers never modify what they are given). */
const ZERO_SECOND = Buffer.alloc(50 * PCM_FRAME_BYTES);

/** Writes `slots` × 20 ms of zero PCM through `write`, at most 1 s per call. */
function writeZeroPcm(slots: number, write: (pcm: Buffer) => void): void {
  for (let left = slots; left > 0; left -= 50) write(ZERO_SECOND.subarray(0, Math.min(50, left) * PCM_FRAME_BYTES));
}

/** A writer over one of rxvoice's file sinks, fed through a Subject. */
function sinkWriter(
  path: string,
  sink: OperatorFunction<Buffer, { path: string; bytes: number; durationMs: number }>,
  toChunk: (pcm: Buffer, opus: Buffer | null) => Buffer,
  onError: (err: RxVoiceError<'SINK_FAILED'>) => void,
  /** Whether chunks are PCM (silence can then go in 1 s chunks) rather than one Opus packet per slot. */
  pcmChunks: boolean,
): TrackWriter {
  const input = new Subject<Buffer>();
  let failed = false;
  let bytes = 0;
  const result = lastValueFrom((input as Observable<Buffer>).pipe(sink)).then(
    (r) => ({ path, bytes: r.bytes, durationMs: r.durationMs }),
    (err: unknown) => {
      failed = true;
      const e = sinkFailed(path, err);
      onError(e);
      throw e;
    },
  );
  result.catch(() => undefined);
  return {
    path,
    get bytes() {
      return bytes;
    },
    write(pcm, opus) {
      if (failed) return;
      const chunk = toChunk(pcm, opus);
      bytes += chunk.length;
      input.next(chunk);
    },
    writeSilence(slots) {
      const put = (chunk: Buffer): void => {
        if (failed) return;
        bytes += chunk.length;
        input.next(chunk);
      };
      if (pcmChunks) writeZeroPcm(slots, put);
      else for (let i = 0; i < slots; i++) put(toChunk(ZERO_SECOND.subarray(0, PCM_FRAME_BYTES), null));
    },
    end() {
      input.complete();
      return result;
    },
  };
}

/** A FLAC file encoded by ffmpeg from the PCM piped to it. */
function flacWriter(path: string, onError: (err: RxVoiceError<'SINK_FAILED'>) => void): TrackWriter {
  let bytes = 0;
  let failed: RxVoiceError<'SINK_FAILED'> | null = null;
  const fail = (cause: unknown): void => {
    if (failed) return;
    failed = sinkFailed(path, cause);
    onError(failed);
  };
  let ffmpeg: string;
  try {
    ffmpeg = findFfmpeg();
  } catch (err) {
    fail(err);
    return { path, bytes: 0, write: () => undefined, writeSilence: () => undefined, end: () => Promise.reject(failed) };
  }
  const child = spawn(
    ffmpeg,
    ['-hide_banner', '-loglevel', 'error', '-nostdin', '-f', 's16le', '-ar', String(SAMPLE_RATE), '-ac', String(CHANNELS), '-i', 'pipe:0', '-c:a', 'flac', '-f', 'flac', '-y', path],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 4000) stderr += b.toString();
  });
  child.stdin.on('error', () => undefined); // EPIPE when ffmpeg exited: reported by 'close'
  const exited = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      fail(err);
      resolve();
    });
    child.on('close', (code, signal) => {
      if (code !== 0) fail(new Error(`ffmpeg exited with ${code ?? signal}: ${stderr.trim() || 'no message'}`));
      resolve();
    });
  });
  return {
    path,
    get bytes() {
      return bytes;
    },
    write(pcm) {
      if (failed || child.stdin.destroyed) return;
      bytes += pcm.length;
      child.stdin.write(pcm);
    },
    writeSilence(slots) {
      writeZeroPcm(slots, (pcm) => this.write(pcm, null));
    },
    async end() {
      child.stdin.end();
      await exited;
      if (failed) throw failed;
      return { path, bytes: sizeOf(path), durationMs: (bytes / PCM_FRAME_BYTES) * 20 };
    },
  };
}

/**
 * A writer for `path` in `format`. For Ogg, `packets: true` writes the received packets
 * (a user's track); `false` encodes the PCM with libopus (the mix).
 */
export function createTrackWriter(
  path: string,
  format: RecordingFormat,
  packets: boolean,
  onError: (err: RxVoiceError<'SINK_FAILED'>) => void,
): TrackWriter {
  if (format === 'wav') return sinkWriter(path, wavFileSink(path), (pcm) => pcm, onError, true);
  if (format === 'flac') return flacWriter(path, onError);
  let encoder: OpusEncoder | null = null;
  const toPacket = packets
    ? (_pcm: Buffer, opus: Buffer | null) => opus ?? OPUS_SILENCE_FRAME
    : (pcm: Buffer) => (encoder ??= new OpusEncoder(SAMPLE_RATE, CHANNELS)).encode(pcm);
  // A user's received packets start at once (no encoder lookahead to skip); the mix's encoder has libopus's 312.
  return sinkWriter(path, oggOpusFileSink(path, { preSkip: packets ? 0 : 312 }), toPacket, onError, false);
}
