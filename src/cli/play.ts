import { spawn } from 'node:child_process';
import type { Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import type { VoiceConnection } from '../gateway/connectVoice';
import { opusEncode } from '../operators/opusEncode';
import { volume } from '../operators/volume';
import { createPlaybackControl } from '../sinks/createPlaybackControl';
import { voiceSink, type PlaybackProgress } from '../sinks/voiceSink';
import { audioSource } from '../sources/audioSource';
import { AudioSourceError } from '../sources/AudioSourceError';
import { ffmpegSource } from '../sources/ffmpegSource';
import { FfmpegNotFoundError } from '../sources/FfmpegNotFoundError';
import { findFfmpeg } from '../sources/findFfmpeg';
import { probeOpusContainer } from '../sources/internal/probeOpusContainer';
import { isUrl, type PlayArgs } from './args';
import { CliError } from './CliError';
import { formatTime } from './time';

/** What `play` needs from the process around it. */
export interface PlayIo {
  /** A progress line; `final` after the last one. */
  progress(line: string, final: boolean): void;
  info(line: string): void;
  /** Registers the Ctrl-C handler (called once per SIGINT). */
  onInterrupt(handler: () => void): void;
}

/**
 * Checks, before anything connects, that the input can be played: ffmpeg is found when
 * the input needs it (anything but a local stereo Ogg/WebM Opus file played as is).
 * Returns the ffmpeg path (null when not needed and not found).
 *
 * @throws {CliError} `INPUT_FAILED` when ffmpeg is needed and missing.
 */
export async function preparePlay(args: PlayArgs): Promise<string | null> {
  const transcode = args.volume !== null || args.seekMs > 0 || args.filter !== null || isUrl(args.input);
  const passthrough = !transcode && (await probeOpusContainer(args.input))?.channels === 2;
  try {
    return findFfmpeg();
  } catch (err) {
    if (err instanceof FfmpegNotFoundError) {
      if (passthrough) return null;
      throw new CliError('INPUT_FAILED', `ffmpeg is needed to play ${args.input}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** The input's duration from ffmpeg's header dump (`Duration: 00:01:02.34`), or null. */
export function probeDurationMs(input: string, ffmpegPath: string, timeoutMs = 5000): Promise<number | null> {
  return new Promise((resolve) => {
    let stderr = '';
    let done = false;
    const finish = (v: number | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(v);
    };
    const child = spawn(ffmpegPath, ['-hide_banner', '-nostdin', '-i', input], { stdio: ['ignore', 'ignore', 'pipe'] });
    const timer = setTimeout(() => finish(null), timeoutMs);
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 65_536) stderr += d.toString('utf8');
    });
    child.on('error', () => finish(null));
    child.on('close', () => {
      const m = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(stderr);
      finish(m ? Math.round(((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000) : null);
    });
  });
}

/** The Opus packets to send: `audioSource` (passthrough when it can), or ffmpeg → volume → Opus. */
export function playSource(args: PlayArgs): Observable<OpusPacket> {
  const ffmpegOptions = { seek: args.seekMs, ...(args.filter !== null ? { filters: args.filter } : {}) };
  if (args.volume !== null && args.volume !== 1) {
    return ffmpegSource(args.input, ffmpegOptions).pipe(volume(args.volume), opusEncode());
  }
  return audioSource(args.input, ffmpegOptions);
}

function progressLine(p: PlaybackProgress, offsetMs: number, durationMs: number | null): string {
  const position = formatTime(offsetMs + p.positionMs);
  const total = durationMs !== null ? ` / ${formatTime(durationMs)}` : '';
  return `${p.status.padEnd(9)} ${position}${total}  frames sent ${p.framesSent}, late ${p.framesLate}, underruns ${p.underruns}`;
}

/**
 * Plays the input into a ready connection until it ends or Ctrl-C (control.stop(): five
 * silence frames, speaking off). Resolves with the last progress; rejects with a
 * {@link CliError} (`INPUT_FAILED` for source errors, `JOIN_FAILED` if the connection ends).
 */
export async function runPlay(conn: VoiceConnection, args: PlayArgs, io: PlayIo, durationMs: number | null): Promise<PlaybackProgress> {
  const control = createPlaybackControl();
  let interrupted = false;
  io.onInterrupt(() => {
    if (interrupted) return;
    interrupted = true;
    io.info('stopping (Ctrl-C)…');
    control.stop();
  });
  let last: PlaybackProgress | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      playSource(args)
        .pipe(voiceSink(conn, { control, progressEveryMs: 1000 }))
        .subscribe({
          next: (p) => {
            last = p;
            io.progress(progressLine(p, args.seekMs, durationMs), p.status === 'ended');
          },
          error: reject,
          complete: resolve,
        });
    });
  } catch (err) {
    if (err instanceof FfmpegNotFoundError || err instanceof AudioSourceError) {
      throw new CliError('INPUT_FAILED', `cannot play ${args.input}: ${err.message}`, { cause: err });
    }
    if (err instanceof Error && 'code' in err && err.code === 'CONNECTION_CLOSED') {
      throw new CliError('JOIN_FAILED', `the voice connection ended during playback: ${err.message}`, { cause: err });
    }
    throw err;
  }
  return last ?? { status: 'ended', positionMs: 0, framesSent: 0, framesLate: 0, underruns: 0, silenceFramesSent: 0, bufferedMs: 0, droppedFrames: 0 };
}
