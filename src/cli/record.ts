import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, map, mergeMap, toArray, type Observable, type Subscription } from 'rxjs';
import type { VoiceConnection } from '../gateway/connectVoice';
import type { Speaker } from '../gateway/VoiceReceiver';
import { VoiceConnectionError } from '../gateway/VoiceConnectionError';
import { jitterBuffer } from '../operators/jitterBuffer';
import { opusDecode } from '../operators/opusDecode';
import { oggOpusFileSink } from '../sinks/oggOpusFileSink';
import { wavFileSink } from '../sinks/wavFileSink';
import type { RecordArgs } from './args';
import { CliError } from './CliError';

/** One file written by `record`. */
export interface RecordedFile {
  userId: string;
  ssrc: number;
  path: string;
  durationMs: number;
  bytes: number;
}

/** What `record` needs from the process around it. */
export interface RecordIo {
  info(line: string): void;
  /** Registers the Ctrl-C handler. */
  onInterrupt(handler: () => void): void;
}

/** `<userId>.<ext>`, then `<userId>-2.<ext>` … for a user's later streams (a rejoin gives a new SSRC). */
function fileNamer(outDir: string, ext: string): (userId: string) => string {
  const used = new Map<string, number>();
  return (userId) => {
    const safe = userId.replace(/[^A-Za-z0-9_-]/g, '_') || 'unknown';
    const n = (used.get(safe) ?? 0) + 1;
    used.set(safe, n);
    return path.join(outDir, n === 1 ? `${safe}.${ext}` : `${safe}-${n}.${ext}`);
  };
}

/** One speaker into one file: WAV (jitter buffer → Opus decode with PLC) or Ogg Opus (payloads as received). */
function recordSpeaker(s: Speaker, file: string, format: RecordArgs['format']): Observable<RecordedFile> {
  const done = <T extends { path: string; durationMs: number; bytes: number }>(r: T): RecordedFile => ({
    userId: s.userId,
    ssrc: s.ssrc,
    path: r.path,
    durationMs: r.durationMs,
    bytes: r.bytes,
  });
  return format === 'wav'
    ? s.packets$.pipe(jitterBuffer(), opusDecode(), wavFileSink(file), map(done))
    : s.packets$.pipe(
        map((p) => p.payload),
        oggOpusFileSink(file),
        map(done),
      );
}

/**
 * Records every speaker of a ready connection (joined undeafened) into its own file until
 * `--duration` elapsed or Ctrl-C, then destroys the connection (which completes every
 * stream, so the files are finalized) and resolves with the files.
 */
export async function runRecord(
  conn: VoiceConnection,
  args: RecordArgs,
  io: RecordIo,
): Promise<{ files: RecordedFile[]; connectionError: Error | null }> {
  try {
    mkdirSync(args.outDir, { recursive: true });
  } catch (err) {
    throw new CliError('BAD_ARGUMENTS', `--out: cannot create ${args.outDir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const nameFor = fileNamer(args.outDir, args.format);
  const files = lastValueFrom(
    conn.speakers$.pipe(
      mergeMap((s) => {
        const file = nameFor(s.userId);
        io.info(`recording user ${s.userId} (ssrc ${s.ssrc}) → ${file}`);
        return recordSpeaker(s, file, args.format);
      }),
      toArray(),
    ),
  );
  files.catch(() => undefined);

  let connectionError: Error | null = null;
  let states: Subscription | undefined;
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      clearTimeout(timer);
      resolve();
    };
    if (args.durationMs !== null) timer = setTimeout(stop, args.durationMs);
    io.onInterrupt(() => {
      io.info('stopping (Ctrl-C)…');
      stop();
    });
    // The connection ending (kicked, or a fatal voice error) ends the recording too.
    states = conn.state$.subscribe((st) => {
      if (st.status === 'disconnected') connectionError = st.error;
      else if (st.status === 'destroyed') {
        connectionError ??= new VoiceConnectionError(
          'LEFT_CHANNEL',
          st.reason === 'disconnected-by-server' ? 'the bot was disconnected from the voice channel (by a moderator?)' : `the voice connection was destroyed (${st.reason})`,
        );
      }
      else return;
      stop();
    });
  });
  states?.unsubscribe();
  conn.destroy(); // leaves the channel; completes speakers$ and each packets$
  return { files: await files, connectionError };
}
