import { lastValueFrom, Subject, tap, type Subscription } from 'rxjs';
import { RxVoiceError } from '../errors';
import type { VoiceConnection } from '../gateway/connectVoice';
import { VoiceConnectionError } from '../gateway/VoiceConnectionError';
import { recordVoiceChannel, type RecordingProgress } from '../sinks/recordVoiceChannel';
import type { RecordArgs } from './args';
import { CliError } from './CliError';

/** One track written by `record`. */
export interface RecordedFile {
  userId: string;
  path: string;
  durationMs: number;
  bytes: number;
}

/** What `record` needs from the process around it. */
export interface RecordIo {
  info(line: string): void;
  /** Registers the Ctrl-C handler. */
  onInterrupt(handler: () => void): void;
  /**
   * On a terminal: shows the live block (a header line, then one line per speaker) in place
   * of the previous one, at every progress value and once more after the stop. Without it, a line per speaker is printed
   * through `info` when they start or stop talking and every 10 s.
   */
  live?(lines: readonly string[]): void;
  /** A user's display name, when the main gateway knows it (for the live lines and `recording.json`). */
  userName?(userId: string): string | undefined;
}

/** `12.3 s`. */
const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * The live lines: one per speaker when they start or stop talking (with how long they have
 * talked), and every 10 s one per speaker with where the recording is.
 */
function liveLines(info: (line: string) => void): (p: RecordingProgress) => void {
  const talking = new Map<string, boolean>();
  let nextSummaryMs = 10_000;
  return (p) => {
    if (p.files) return;
    const summary = p.durationMs >= nextSummaryMs;
    if (summary) nextSummaryMs = p.durationMs + 10_000;
    for (const s of p.speakers) {
      const who = s.name ? `${s.name} (${s.userId})` : s.userId;
      const before = talking.get(s.userId);
      if (summary || (before ?? false) !== s.talking) {
        info(`[${seconds(p.durationMs)}] ${who}: ${s.talking ? 'talking' : 'silent'}, talked ${seconds(s.spokenMs)}`);
      }
      talking.set(s.userId, s.talking);
    }
  };
}

/** The live block for a terminal: `recording 12.3 s, N speakers`, then one line per speaker. */
export function liveBlock(p: RecordingProgress): string[] {
  const lines = [`recording ${seconds(p.durationMs)}, ${p.speakers.length} speaker${p.speakers.length === 1 ? '' : 's'}`];
  for (const s of p.speakers) {
    const who = s.name ? `${s.name} (${s.userId})` : s.userId;
    lines.push(`  ${s.talking ? 'talking' : 'silent '}  ${who}: talked ${seconds(s.spokenMs)} in ${s.spurts} spurt${s.spurts === 1 ? '' : 's'}`);
  }
  return lines;
}

/**
 * Records a ready connection (joined undeafened) with `recordVoiceChannel`: one track per
 * speaker on one timeline (`<userId>.<format>`), `mix.<format>` with `--mix`, and
 * `recording.json`, until `--duration` elapsed, Ctrl-C, or the connection ends; prints a
 * live line per speaker (talking / silent, time talked) while it records; then destroys
 * the connection and resolves with the tracks.
 */
export async function runRecord(
  conn: VoiceConnection,
  args: RecordArgs,
  io: RecordIo,
): Promise<{ files: RecordedFile[]; connectionError: Error | null }> {
  const stop = new Subject<void>();
  let timer: NodeJS.Timeout | undefined;
  if (args.durationMs !== null) timer = setTimeout(() => stop.next(), args.durationMs);
  io.onInterrupt(() => {
    io.info('stopping (Ctrl-C)…');
    stop.next();
  });
  let connectionError: Error | null = null;
  // The connection ending (kicked, or a fatal voice error) ends the recording too (recordVoiceChannel sees `destroyed`).
  const states: Subscription = conn.state$.subscribe((st) => {
    if (st.status === 'disconnected') {
      connectionError = st.error;
      stop.next();
    } else if (st.status === 'destroyed') {
      connectionError ??= new VoiceConnectionError(
        'LEFT_CHANNEL',
        st.reason === 'disconnected-by-server' ? 'the bot was disconnected from the voice channel (by a moderator?)' : `the voice connection was destroyed (${st.reason})`,
      );
    }
  });
  let last: RecordingProgress;
  let started = false;
  // On a terminal the last value (after the stop) draws the final block too.
  const live = io.live ? (p: RecordingProgress) => io.live?.(liveBlock(p)) : liveLines(io.info.bind(io));
  try {
    last = await lastValueFrom(
      recordVoiceChannel(conn, {
        directory: args.outDir,
        format: args.format,
        mix: args.mix,
        until: stop,
        ...(io.userName ? { userName: io.userName.bind(io) } : {}),
      }).pipe(
        tap((p) => {
          started = true;
          live(p);
        }),
      ),
    );
  } catch (err) {
    if (err instanceof RxVoiceError && err.code === 'SINK_FAILED') {
      if (err.cause instanceof RxVoiceError && err.cause.code === 'FFMPEG_NOT_FOUND') throw new CliError('INPUT_FAILED', `--format flac needs ffmpeg: ${err.cause.message}`, { cause: err });
      if (!started) throw new CliError('BAD_ARGUMENTS', `--out: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    clearTimeout(timer);
    states.unsubscribe();
    conn.destroy(); // leaves the channel
  }
  const files: RecordedFile[] = [];
  for (const f of last.files ?? []) {
    if (f.kind === 'track' && f.userId !== undefined) {
      files.push({ userId: f.userId, path: f.path, durationMs: f.durationMs ?? 0, bytes: f.bytes });
    } else {
      io.info(`wrote ${f.kind === 'mix' ? 'the mix' : 'the timeline'}: ${f.path}`);
    }
  }
  return { files, connectionError };
}
