import { spawn } from 'node:child_process';
import type { Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import type { VoiceConnection } from '../gateway/connectVoice';
import { opusEncode } from '../operators/opusEncode';
import { volume } from '../operators/volume';
import { createPlayer } from '../player/createPlayer';
import type { PlaybackProgress } from '../sinks/voiceSink';
import { audioSource } from '../sources/audioSource';
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
 * Checks, before anything connects, that the inputs can be played: ffmpeg is found when an
 * input needs it (anything but a local stereo Ogg/WebM Opus file played as is).
 * Returns the ffmpeg path (null when not needed and not found).
 *
 * @throws {CliError} `INPUT_FAILED` when ffmpeg is needed and missing.
 */
export async function preparePlay(args: PlayArgs): Promise<string | null> {
  try {
    return findFfmpeg();
  } catch (err) {
    if (!(err instanceof FfmpegNotFoundError)) throw err;
    for (const input of args.inputs) {
      const transcode = args.volume !== null || args.seekMs > 0 || args.filter !== null || isUrl(input);
      const passthrough = !transcode && (await probeOpusContainer(input))?.channels === 2;
      if (!passthrough) throw new CliError('INPUT_FAILED', `ffmpeg is needed to play ${input}: ${err.message}`, { cause: err });
    }
    return null;
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

/** The Opus packets of one input: `audioSource` (passthrough when it can), or ffmpeg → volume → Opus. */
export function playSource(args: PlayArgs, input: string, seekMs: number): Observable<OpusPacket> {
  const ffmpegOptions = { seekMs, ...(args.filter !== null ? { filters: args.filter } : {}) };
  if (args.volume !== null && args.volume !== 1) {
    return ffmpegSource(input, ffmpegOptions).pipe(volume(args.volume), opusEncode());
  }
  return audioSource(input, ffmpegOptions);
}

/** What `runPlay` played. */
export interface PlaySummary {
  /** Audio sent, ms (all inputs). */
  playedMs: number;
  framesSent: number;
  silenceFramesSent: number;
  framesLate: number;
  underruns: number;
  /** Inputs that failed (and were skipped). */
  failed: number;
}

/**
 * Plays the inputs one after the other (gapless, through a player) into a ready connection
 * until the last ends or Ctrl-C (`stop()`: five silence frames, speaking off). An input that
 * fails is reported and skipped. Resolves with a summary; rejects with a {@link CliError}:
 * `INPUT_FAILED` when every input failed, `JOIN_FAILED` if the connection ends.
 *
 * @param ffmpegPath for the duration shown in the progress line (null: no duration).
 */
export async function runPlay(conn: VoiceConnection, args: PlayArgs, io: PlayIo, ffmpegPath: string | null): Promise<PlaySummary> {
  const player = createPlayer<{ index: number }>(conn, { progressEveryMs: 1000 });
  const summary: PlaySummary = { playedMs: 0, framesSent: 0, silenceFramesSent: 0, framesLate: 0, underruns: 0, failed: 0 };
  const n = args.inputs.length;
  let interrupted = false;
  io.onInterrupt(() => {
    if (interrupted) return;
    interrupted = true;
    io.info('stopping (Ctrl-C)…');
    player.stop();
  });
  let durationMs: number | null = null;
  let current: { index: number } | null = null;
  let base: PlaybackProgress | null = null; // totals of the sink sessions before the current one
  let last: PlaybackProgress | null = null;
  const line = (p: PlaybackProgress): string => {
    // On the input's timeline: a `--seek` start is in it (ffmpeg's frames carry their position).
    const position = formatTime(p.positionMs);
    const total = durationMs !== null ? ` / ${formatTime(durationMs)}` : '';
    const track = n > 1 && current ? ` [${current.index + 1}/${n}]` : '';
    return `${p.status.padEnd(9)} ${position}${total}${track}  frames sent ${summary.framesSent}, late ${summary.framesLate}, underruns ${summary.underruns}`;
  };
  let firstError: unknown = null;
  try {
    await new Promise<void>((resolve, reject) => {
      player.progress$.subscribe((p) => {
        if (last && p.framesSent < last.framesSent) base = accumulate(base, last); // a new sink session
        last = p;
        const totals = accumulate(base, p);
        Object.assign(summary, { framesSent: totals.framesSent, silenceFramesSent: totals.silenceFramesSent, framesLate: totals.framesLate, underruns: totals.underruns });
        summary.playedMs = summary.framesSent * 20;
        if (p.status !== 'ended') io.progress(line(p), false);
      });
      player.events$.subscribe((e) => {
        if (e.type === 'start') {
          current = e.track.data ?? null;
          durationMs = null;
          if (n > 1) io.info(`playing ${e.track.title} (${(current?.index ?? 0) + 1}/${n})`);
          if (ffmpegPath && typeof e.track.data?.index === 'number') {
            const started = current;
            void probeDurationMs(args.inputs[e.track.data.index], ffmpegPath).then((d) => {
              if (current === started) durationMs = d;
            });
          }
        } else if (e.type === 'end' && e.reason === 'failed') {
          summary.failed++;
          firstError ??= e.error;
          const why = e.error instanceof Error ? e.error.message : String(e.error);
          io.info(`cannot play ${e.track.title}: ${why}${n > 1 ? ' (skipped)' : ''}`);
        } else if (e.type === 'idle') {
          if (last) io.progress(line({ ...last, status: 'ended' }), true);
          resolve();
        } else if (e.type === 'error') {
          reject(e.error);
        }
      });
      args.inputs.forEach((input, index) => {
        player.enqueue({ source: playSource(args, input, index === 0 ? args.seekMs : 0), title: input, data: { index } });
      });
    });
  } catch (err) {
    throw new CliError('JOIN_FAILED', `the voice connection ended during playback: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    player.destroy();
  }
  if (summary.failed === n && !interrupted) {
    const why = firstError instanceof Error ? firstError.message : String(firstError);
    throw new CliError('INPUT_FAILED', `cannot play ${n > 1 ? 'any input' : args.inputs[0]}: ${why}`, { cause: firstError });
  }
  return summary;
}

/** Counters of two sink sessions added up. */
function accumulate(a: PlaybackProgress | null, b: PlaybackProgress): PlaybackProgress {
  if (!a) return b;
  return {
    ...b,
    framesSent: a.framesSent + b.framesSent,
    silenceFramesSent: a.silenceFramesSent + b.silenceFramesSent,
    framesLate: a.framesLate + b.framesLate,
    underruns: a.underruns + b.underruns,
  };
}
