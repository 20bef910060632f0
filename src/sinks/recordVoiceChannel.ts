import { accessSync, constants } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Observable, of, Subject, type SchedulerLike, type Subscription } from 'rxjs';
import { FRAME_MS, PCM_FRAME_BYTES, SAMPLE_RATE, CHANNELS } from '../core/audioFormat';
import { OPUS_GAP, type JitterItem } from '../core/JitterItem';
import { schedulerClock, sharedVoiceClock, type VoiceClock } from '../core/VoiceClock';
import { RxVoiceError } from '../errors';
import type { VoiceConnection } from '../gateway/connectVoice';
import type { ReceivedPacket } from '../gateway/VoiceReceiver';
import { mix } from '../operators/mix';
import { opusDecode } from '../operators/opusDecode';
import { SlotPlacer, type PlaceablePacket } from './internal/recording/SlotPlacer';
import { TrackTimeline, type SlotContent } from './internal/recording/TrackTimeline';
import { createTrackWriter, type RecordingFormat, type TrackWriter } from './internal/recording/trackWriter';
import { makeDirectory } from './internal/makeDirectory';

export type { RecordingFormat } from './internal/recording/trackWriter';

/** Options of {@link recordVoiceChannel}. */
export interface RecordVoiceChannelOptions {
  /** Where the tracks, the mix and `recording.json` go (created if missing). */
  directory: string;
  /**
   * `'wav'` (default: decoded, 16-bit 48 kHz stereo, lost packets concealed), `'flac'` (the
   * same PCM, encoded losslessly by ffmpeg) or `'ogg'` (Ogg Opus with the packets as received,
   * pauses and losses filled with Opus silence frames; the mix is encoded with libopus).
   */
  format?: RecordingFormat;
  /** Also write `mix.<ext>`, every user mixed on the same timeline. Default false. */
  mix?: boolean;
  /** Ends the recording at its first value or its error (it also ends when the connection is destroyed). */
  until?: Observable<unknown>;
  /**
   * How long a slot stays open for late and reordered packets before it is written, ms.
   * Packets later than this are dropped (counted per user). Default 300.
   */
  holdMs?: number;
  /** Time between progress values while recording, ms. Default 1000. */
  progressIntervalMs?: number;
  /** A user's display name for progress and `recording.json` (the voice gateway knows ids only); a call that throws gives no name. */
  userName?: (userId: string) => string | undefined;
  /** Clock that drives writing; must share `receivedAt`'s time base (default: the shared 20 ms clock). */
  clock?: VoiceClock;
  /** Drive writing from this RxJS scheduler instead (tests; `receivedAt` in its time). */
  scheduler?: SchedulerLike;
}

/** One user in a {@link RecordingProgress}. */
export interface RecordingSpeaker {
  userId: string;
  name?: string;
  /** Talking in the last slot written (writing runs `holdMs` behind real time). */
  talking: boolean;
  /** Time talked so far (talk spurts, concealed losses included), ms. */
  spokenMs: number;
  /** Talk spurts so far. */
  spurts: number;
  /** Bytes handed to this user's track. */
  bytes: number;
}

/** A file a recording wrote (in the last {@link RecordingProgress}). */
export interface RecordedFile {
  kind: 'track' | 'mix' | 'metadata';
  /** The user of a track. */
  userId?: string;
  path: string;
  /** Size on disk, bytes. */
  bytes: number;
  /** Audio length of a track or the mix, ms. */
  durationMs?: number;
}

/** What {@link recordVoiceChannel} emits. */
export interface RecordingProgress {
  /** The recording's timeline written so far, ms (the whole recording on the last value). */
  durationMs: number;
  /** Bytes handed to every track and the mix so far. */
  bytes: number;
  speakers: RecordingSpeaker[];
  /** The files written, on the last value only (null before). */
  files: RecordedFile[] | null;
}

/** A talk spurt in `recording.json`, ms from the recording's start. */
export interface RecordingSpurt {
  startMs: number;
  endMs: number;
}

/** The content of `recording.json`. */
export interface RecordingManifest {
  version: 1;
  /** When slot 0 starts (ISO 8601). */
  startedAt: string;
  durationMs: number;
  format: RecordingFormat;
  sampleRate: number;
  channels: number;
  /** The mixed track's file name (beside `recording.json`), or null. */
  mix: string | null;
  users: Array<{
    id: string;
    name?: string;
    /** File names beside `recording.json` (one: a user who rejoins continues in it). */
    tracks: string[];
    ssrcs: number[];
    spurts: RecordingSpurt[];
    /** Packets that came after their slot was written (dropped), and packets lost and concealed. */
    latePackets: number;
    concealedFrames: number;
  }>;
}

interface User {
  readonly userId: string;
  readonly file: string;
  readonly placer: SlotPlacer;
  readonly addToTimeline: (slot: number, p: PlaceablePacket) => void;
  readonly timeline: TrackTimeline;
  readonly writer: TrackWriter;
  readonly ssrcs: Set<number>;
  readonly decodeInput: Subject<JitterItem>;
  readonly decoded: Buffer[];
  concealed: number;
}

const ZERO_FRAME = Buffer.alloc(PCM_FRAME_BYTES);

/** A file name from a user id (Discord ids are digits; anything else is made safe). */
function fileBase(userId: string): string {
  return userId.replace(/[^A-Za-z0-9_-]/g, '_') || 'unknown';
}

/**
 * Records a voice channel the way recording bots do: one track per user, every track on
 * one timeline — each starts at the recording's start and is as long as the recording,
 * with silence before a user's first talk spurt, between spurts and after the last — plus
 * optionally a mix, and `recording.json` describing it. Tracks stream to disk (memory
 * stays bounded however long it runs).
 *
 * Files in `directory`: `<userId>.<ext>` per user who sent audio (a user who leaves and
 * rejoins continues in the same track), `mix.<ext>` with `mix: true`, and
 * `recording.json` ({@link RecordingManifest}: start time, users, their tracks and talk
 * spurts in ms). 48 kHz stereo throughout.
 *
 * Placement: the timeline is 20 ms slots from the moment of subscription, on the receive
 * time base (`receivedAt`). Each packet goes into a slot by its RTP timestamp, anchored to
 * arrival times: a new stream and the first packet after a pause whose timestamp disagrees
 * with its arrival (a sender whose timestamps stand still over a pause) go where they
 * arrived, and the anchor follows the receiver's clock when the sender's drifts (see the
 * `SlotPlacer` notes), so the tracks never drift from each other or from the clock. Slots
 * are written `holdMs` after they pass: in sequence order a hole is a lost packet
 * (concealed by libopus PLC in WAV/FLAC), otherwise silence. No jitter buffer is involved,
 * so nothing depends on one keeping up. The track's length comes from the clock:
 * `round(wall-clock length / 20 ms)` slots, within 10 ms of the wall-clock length however
 * long the recording.
 *
 * Emits a {@link RecordingProgress} every `progressIntervalMs` and when a new user starts
 * talking; after the recording ends (first value of `until`, the connection destroyed, or
 * unsubscribing — then without emitting) it waits `holdMs` for packets in flight, writes
 * the last slots, finalizes every file (headers patched, flushed, closed; FLAC: ffmpeg
 * exited), writes `recording.json`, emits a last value whose `files` lists them all, and
 * completes.
 *
 * Errors with `RxVoiceError` `SINK_FAILED` when the directory cannot be created or written
 * (at subscribe), or a file cannot be written (disk full, ffmpeg failing for FLAC): the
 * recording stops, the other files are finalized (they stay valid, up to where it
 * stopped) and `recording.json` is attempted; `FFMPEG_NOT_FOUND` surfaces as `SINK_FAILED`
 * with it as `cause`.
 *
 * @param conn a voice connection joined undeafened (Discord sends no audio to a deafened client).
 * @param options directory, format, mix, until, …
 * @returns progress values, the last one with the files.
 * @throws {RxVoiceError} `INVALID_ARGUMENT`, synchronously, for an empty directory, an
 *   unknown format, or a negative `holdMs` / non-positive `progressIntervalMs`.
 *
 * @example
 * ```ts
 * recordVoiceChannel(conn, { directory: 'recordings/2024-05-01', format: 'flac', mix: true, until: timer(60_000) })
 *   .subscribe((p) => console.log(p.files ?? `${p.durationMs} ms, ${p.speakers.length} speakers`));
 * ```
 * Timeline (one slot per character; A pauses, B joins late; the recording stops at `|`):
 * ```text
 * A packets  --aaaaa-------aaaaa--|
 * B packets  ---------bbbbb-------|
 * A.wav      ssaaaaasssssssaaaaass|
 * B.wav      sssssssssbbbbbsssssss|
 * mix.wav    ssaaaaassbbbbbaaaaass|
 * ```
 */
export function recordVoiceChannel(conn: VoiceConnection, options: RecordVoiceChannelOptions): Observable<RecordingProgress> {
  const { directory, format = 'wav', mix: withMix = false, holdMs = 300, progressIntervalMs = 1000 } = options;
  if (typeof directory !== 'string' || directory === '') throw new RxVoiceError('INVALID_ARGUMENT', 'recordVoiceChannel: directory must be a non-empty path');
  if (format !== 'wav' && format !== 'flac' && format !== 'ogg') {
    throw new RxVoiceError('INVALID_ARGUMENT', `recordVoiceChannel: format must be 'wav', 'flac' or 'ogg', got ${JSON.stringify(format)}`);
  }
  if (!(holdMs >= 0) || !Number.isFinite(holdMs)) throw new RxVoiceError('INVALID_ARGUMENT', `recordVoiceChannel: holdMs must be ≥ 0, got ${holdMs}`);
  if (!(progressIntervalMs > 0)) throw new RxVoiceError('INVALID_ARGUMENT', `recordVoiceChannel: progressIntervalMs must be > 0, got ${progressIntervalMs}`);

  return new Observable<RecordingProgress>((subscriber) => {
    try {
      makeDirectory(directory);
      accessSync(directory, constants.W_OK);
    } catch (err) {
      subscriber.error(new RxVoiceError('SINK_FAILED', `recordVoiceChannel: cannot write to ${directory}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      return;
    }
    const clock = options.clock ?? (options.scheduler ? schedulerClock(options.scheduler) : sharedVoiceClock());
    const startAt = clock.now();
    const startedAt = new Date();
    const users = new Map<string, User>();
    const subs: Subscription[] = [];
    let failure: RxVoiceError<'SINK_FAILED'> | null = null;
    let stopSlot = -1; // ≥ 0 once stopping
    let stopAt = Infinity;
    let finished = false;
    let lastProgressAt = startAt;
    let mixNext = 0;
    let writtenSlots = 0;
    const mixPending = new Map<number, Buffer[]>();

    const onWriteError = (err: RxVoiceError<'SINK_FAILED'>): void => {
      failure ??= err;
      stop(true);
    };
    const mixWriter = withMix ? createTrackWriter(path.join(directory, `mix.${format}`), format, false, onWriteError) : null;

    const userFor = (userId: string): User => {
      let user = users.get(userId);
      if (user) return user;
      const file = path.join(directory, `${fileBase(userId)}.${format}`);
      const decoded: Buffer[] = [];
      const decodeInput = new Subject<JitterItem>();
      subs.push(decodeInput.pipe(opusDecode()).subscribe((frame) => decoded.push(frame)));
      const timeline = new TrackTimeline();
      user = {
        userId,
        addToTimeline: (slot, p) => {
          if (slot >= 0 && (stopSlot < 0 || slot < stopSlot)) timeline.add(slot, { sequence: (p as ReceivedPacket).sequence, payload: (p as ReceivedPacket).payload });
        },
        file,
        placer: new SlotPlacer(startAt),
        timeline,
        writer: createTrackWriter(file, format, true, onWriteError),
        ssrcs: new Set(),
        decodeInput,
        decoded,
        concealed: 0,
      };
      users.set(userId, user);
      return user;
    };

    const onPacket = (user: User, p: ReceivedPacket): void => {
      if (stopSlot >= 0 && clock.now() > stopAt + holdMs) return;
      user.ssrcs.add(p.ssrc);
      user.placer.place(p, user.addToTimeline);
    };

    /** Decodes one slot of a user's track (a 20 ms frame). */
    const render = (user: User, content: SlotContent): Buffer => {
      if (content.kind === 'silence') return ZERO_FRAME;
      user.decoded.length = 0;
      if (content.kind === 'lost') user.concealed++;
      user.decodeInput.next(content.kind === 'packet' ? content.payload : content.next ? { gap: true, next: content.next } : OPUS_GAP);
      // Discord clients send 20 ms packets; a longer one keeps its first 20 ms (the timeline has one slot for it).
      return user.decoded[0] ?? ZERO_FRAME;
    };

    const writeUntil = (limit: number): void => {
      const now = limit >= stopSlot && stopSlot >= 0 ? Infinity : clock.now();
      for (const user of users.values()) user.placer.flush(now, user.addToTimeline);
      for (const user of users.values()) {
        let silent = 0; // silence slots not written yet (written in chunks)
        user.timeline.finalize(limit, (slot, content) => {
          if (content.kind === 'silence') {
            silent++;
            return;
          }
          if (silent > 0) user.writer.writeSilence(silent);
          silent = 0;
          const pcm = render(user, content);
          user.writer.write(pcm, content.kind === 'packet' ? content.payload : null);
          if (mixWriter && slot >= mixNext) {
            const list = mixPending.get(slot);
            if (list) list.push(pcm);
            else mixPending.set(slot, [pcm]);
          }
        });
        if (silent > 0) user.writer.writeSilence(silent);
      }
      if (limit > writtenSlots) writtenSlots = limit;
      if (mixWriter) {
        for (; mixNext < limit; mixNext++) {
          const frames = mixPending.get(mixNext);
          mixPending.delete(mixNext);
          if (frames) mixWriter.write(mixFrames(frames), null);
          else mixWriter.writeSilence(1);
        }
      }
    };

    /** The user's name from `options.userName`; none when it throws or gives no string. */
    const nameOf = (userId: string): string | undefined => {
      try {
        const name = options.userName?.(userId);
        return typeof name === 'string' ? name : undefined;
      } catch {
        return undefined;
      }
    };
    const progress = (files: RecordedFile[] | null): RecordingProgress => {
      const speakers = [...users.values()].map((u): RecordingSpeaker => {
        const name = nameOf(u.userId);
        return {
          userId: u.userId,
          ...(name !== undefined ? { name } : {}),
          talking: u.timeline.talking,
          spokenMs: u.timeline.talkingSlots * FRAME_MS,
          spurts: u.timeline.spurts().length,
          bytes: u.writer.bytes,
        };
      });
      const bytes = speakers.reduce((n, s) => n + s.bytes, mixWriter?.bytes ?? 0);
      return { durationMs: (files ? stopSlot : writtenSlots) * FRAME_MS, bytes, speakers, files };
    };

    const stopTicking = clock.add(() => {
      if (finished) return;
      const now = clock.now();
      if (stopSlot >= 0 && (now >= stopAt + holdMs || failure)) {
        finish();
        return;
      }
      let limit = Math.floor((now - startAt - holdMs) / FRAME_MS);
      if (stopSlot >= 0) limit = Math.min(limit, stopSlot);
      if (limit > 0) writeUntil(limit);
      if (now - lastProgressAt >= progressIntervalMs && !failure) {
        lastProgressAt = now;
        subscriber.next(progress(null));
      }
    });

    function stop(now = false): void {
      if (stopSlot >= 0) {
        if (now) stopAt = -Infinity;
        return;
      }
      const t = clock.now();
      stopSlot = Math.max(0, Math.round((t - startAt) / FRAME_MS));
      stopAt = now ? -Infinity : t;
    }

    const finish = (): void => {
      if (finished) return;
      finished = true;
      stopTicking();
      subs.forEach((s) => s.unsubscribe());
      if (!failure) writeUntil(stopSlot);
      const durationMs = stopSlot * FRAME_MS;
      const all = [...users.values()];
      const writers: Array<{ kind: 'track' | 'mix'; userId?: string; writer: TrackWriter }> = all.map((u) => ({ kind: 'track', userId: u.userId, writer: u.writer }));
      if (mixWriter) writers.push({ kind: 'mix', writer: mixWriter });
      void (async () => {
        const results = await Promise.allSettled(writers.map((w) => w.writer.end()));
        const files: RecordedFile[] = [];
        results.forEach((r, i) => {
          if (r.status === 'fulfilled') {
            const w = writers[i];
            files.push({ kind: w.kind, ...(w.userId !== undefined ? { userId: w.userId } : {}), path: r.value.path, bytes: r.value.bytes, durationMs: r.value.durationMs });
          } else {
            failure ??= r.reason as RxVoiceError<'SINK_FAILED'>;
          }
        });
        const manifest: RecordingManifest = {
          version: 1,
          startedAt: startedAt.toISOString(),
          durationMs,
          format,
          sampleRate: SAMPLE_RATE,
          channels: CHANNELS,
          mix: mixWriter ? path.basename(mixWriter.path) : null,
          users: all.map((u) => {
            const name = nameOf(u.userId);
            return {
              id: u.userId,
              ...(name !== undefined ? { name } : {}),
              tracks: [path.basename(u.file)],
              ssrcs: [...u.ssrcs],
              spurts: u.timeline.spurts().map((s) => ({ startMs: s.start * FRAME_MS, endMs: s.end * FRAME_MS })),
              latePackets: u.timeline.late,
              concealedFrames: u.concealed,
            };
          }),
        };
        const manifestPath = path.join(directory, 'recording.json');
        const json = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
        try {
          await writeFile(manifestPath, json);
          files.push({ kind: 'metadata', path: manifestPath, bytes: json.length });
        } catch (err) {
          failure ??= new RxVoiceError('SINK_FAILED', `recordVoiceChannel: writing ${manifestPath} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        if (subscriber.closed) return;
        if (failure) {
          subscriber.error(failure);
          return;
        }
        subscriber.next(progress(files));
        subscriber.complete();
      })();
    };

    subs.push(
      conn.speakers$.subscribe((speaker) => {
        // A track starts with the user's first packet of this recording (a speaker who sent
        // before it started and stays silent gets none).
        let user: User | undefined;
        subs.push(
          speaker.packets$.subscribe((p) => {
            if (!user) {
              const known = users.has(speaker.userId);
              user = userFor(speaker.userId);
              if (!known && stopSlot < 0) subscriber.next(progress(null));
            }
            onPacket(user, p);
          }),
        );
      }),
    );
    subs.push(
      conn.state$.subscribe({
        next: (s) => {
          if (s.status === 'destroyed') stop();
        },
        complete: () => stop(),
      }),
    );
    // `until`'s first value ends the recording; so does an error of it (the files are still finalized).
    if (options.until) subs.push(options.until.subscribe({ next: () => stop(), error: () => stop() }));

    return () => {
      // Unsubscribed: end now, still leaving valid files (nobody hears about it).
      if (!finished) {
        stop(true);
        finish();
      }
    };
  });
}

/** Frames of one slot mixed with rxvoice's `mix` (synchronous inputs line up frame by frame). */
function mixFrames(frames: Buffer[]): Buffer {
  if (frames.length === 1) return frames[0];
  let out: Buffer = ZERO_FRAME;
  mix(...frames.map((f) => of(f))).subscribe((f) => (out = f));
  return out;
}
