/**
 * Queues of tracks through one connection, as music bots compose them: `concat`,
 * `concatMap` over a queue `Subject`, sinks in a row, a hot source without demand, and the
 * player (skip, pause, failed tracks). Checked at the emulator: every frame arrives, RTP
 * sequence and timestamp run on across tracks and sinks, SPEAKING does not toggle between
 * consecutive tracks, and ffmpeg reads only about `leadMs` ahead, also while paused.
 */
import { concat, concatMap, defer, filter, lastValueFrom, Observable, of, Subject, take, tap, toArray } from 'rxjs';
import type { RxVoiceWarning } from '../../src';
import { createHighResolutionClock } from '../../src/core/VoiceClock';
import { opusEncode } from '../../src/operators/opusEncode';
import { createPlayer, type PlayerEvent } from '../../src/player';
import { createPlaybackControl } from '../../src/sinks/createPlaybackControl';
import { voiceSink, type PlaybackProgress } from '../../src/sinks/voiceSink';
import { ffmpegSource, oggOpusSource } from '../../src/sources';
import { dominantFrequency, startVoiceServer, type VoiceServer, type VoiceServerEvent } from '../../src/testing';
import { opusTone } from '../helpers/opusTone';
import { makeFixtures, type Fixtures } from '../sources/helpers';
import { joinEmulator, playIntoEmulator } from '../helpers/joinEmulator';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TEN = Array.from({ length: 10 }, (_, i) => `tone-${300 + 50 * i}-2s.mp3`);

describe('queues through one voice connection', () => {
  let server: VoiceServer;
  let fx: Fixtures;
  const events: VoiceServerEvent[] = [];
  beforeAll(async () => {
    fx = makeFixtures([
      'tone-440-4s.ogg',
      'tone-660-4s.ogg',
      'tone-440-10s.ogg',
      'tone-660-10s.ogg',
      'tone-440-5s.mp3',
      'tone-660-5s.mp3',
      'tone-880-5s.mp3',
      'tone-440-3s.wav',
      'tone-660-3s.wav',
      'tone-880-3s.wav',
      'twotone.flac',
      ...TEN,
    ]);
    server = await startVoiceServer();
    server.events$.subscribe((e) => events.push(e));
  }, 60_000);
  afterAll(async () => {
    await server.close();
    fx.remove();
  });

  const join = () => joinEmulator(server, 'queue');

  /** Plays `opus$` into a fresh connection; what the sink reported and what the emulator received. */
  async function play(opus$: Observable<Buffer>, options: Parameters<typeof voiceSink>[1] = {}) {
    const { progress, received: r, userId } = await playIntoEmulator(server, 'queue', opus$, options);
    return { progress, last: progress[progress.length - 1], r, voiced: r.frames - r.silenceFrames, speaking: speakingOf(userId) };
  }

  const speakingOf = (userId: string): number[] =>
    events.filter((e): e is Extract<VoiceServerEvent, { type: 'speaking' }> => e.type === 'speaking' && e.userId === userId).map((e) => e.flags);

  test('concat, concatMap over a queue Subject, and 10 mp3s: every frame, no drops, RTP continuous, SPEAKING once', async () => {
    const queue$ = new Subject<string>();
    // Once the sink is subscribed, /play commands fill the queue: the first at once, the
    // others while the first track plays.
    const commands$ = defer(() => {
      setTimeout(() => queue$.next(fx.path('tone-440-5s.mp3')));
      setTimeout(() => queue$.next(fx.path('tone-660-5s.mp3')), 1500);
      setTimeout(() => {
        queue$.next(fx.path('tone-880-5s.mp3'));
        queue$.complete();
      }, 3000);
      return queue$;
    });
    const mp3s = play(commands$.pipe(concatMap((f) => ffmpegSource(f)), opusEncode()));
    const [short, long, mp3, ten] = await Promise.all([
      play(concat(oggOpusSource(fx.path('tone-440-4s.ogg')), oggOpusSource(fx.path('tone-660-4s.ogg')))),
      play(concat(oggOpusSource(fx.path('tone-440-10s.ogg')), oggOpusSource(fx.path('tone-660-10s.ogg')))), // issue 11 reported 1101 of 2000 for 2 × 20 s; 10 s keeps the suite short
      mp3s,
      play(defer(() => new Observable<string>((s) => TEN.forEach((f) => s.next(fx.path(f))))).pipe(take(10), concatMap((f) => ffmpegSource(f)), opusEncode())),
    ]);
    const cases = [
      { name: '2 × 4 s ogg', run: short, expected: 400, tracks: 2 },
      { name: '2 × 10 s ogg', run: long, expected: 1000, tracks: 2 },
      { name: '3 × 5 s mp3, concatMap over a Subject', run: mp3, expected: 750, tracks: 3 },
      { name: '10 × 2 s mp3, concatMap', run: ten, expected: 1000, tracks: 10 },
    ];
    for (const { name, run, expected, tracks } of cases) {
      const summary = {
        name,
        voiced: run.voiced,
        dropped: run.last.droppedFrames,
        lost: run.r.lost,
        stepsBeyondLate: Math.max(0, run.r.timestampSteps - run.last.framesLate),
        speaking: run.speaking,
        silence: run.r.silenceFrames,
      };
      console.log(`${name}: ${run.voiced} of ${expected} voiced frames, ${JSON.stringify({ ...summary, name: undefined, voiced: undefined })}`);
      expect(Math.abs(run.voiced - expected)).toBeLessThanOrEqual(tracks);
      expect(summary).toMatchObject({ dropped: 0, lost: 0, stepsBeyondLate: 0, speaking: [1, 0], silence: 5 });
      expect(run.last.framesSent).toBe(run.voiced);
    }
  }, 60_000);

  test('pause 3 s inside a concat queue: ffmpeg stops reading within one lead, nothing is dropped', async () => {
    const { conn, userId } = await join();
    const control = createPlaybackControl();
    let read = 0; // PCM frames ffmpeg delivered to the pipeline
    const track = (f: string) => ffmpegSource(fx.path(f)).pipe(tap(() => read++));
    const samples: Array<{ read: number; sent: number }> = [];
    let sent = 0;
    const done = lastValueFrom(
      concat(track('tone-440-3s.wav'), track('tone-660-3s.wav'), track('tone-880-3s.wav')).pipe(
        opusEncode(),
        voiceSink(conn, { control, progressEveryMs: 20 }),
        tap((p: PlaybackProgress) => (sent = p.framesSent)),
        toArray(),
      ),
    );
    await sleep(3500); // into the second track
    control.pause();
    await sleep(200);
    const atPause = read;
    for (let i = 0; i < 6; i++) {
      await sleep(500);
      samples.push({ read, sent });
    }
    control.resume();
    const progress = await done;
    await sleep(100);
    conn.destroy();
    const r = server.receivedFrom(userId)!;
    const last = progress[progress.length - 1];
    // While paused nothing more is read, and what was read is within the 1 s lead (50 frames)
    // plus one pipe chunk (64 KiB ≈ 17 frames) of what was sent.
    console.log(`pause: read ${atPause} frames, sent ${samples[0].sent} when paused; read unchanged for 3 s: ${samples.every((x) => x.read === atPause)}`);
    for (const s of samples) {
      expect(s.read).toBe(atPause);
      expect(s.read - s.sent).toBeLessThanOrEqual(50 + 20);
    }
    expect(Math.abs(r.frames - r.silenceFrames - 450)).toBeLessThanOrEqual(3);
    expect(last.droppedFrames).toBe(0);
    expect(r.lost).toBe(0);
    expect(r.timestampSteps).toBeLessThanOrEqual(last.framesLate); // a step only where an event-loop stall skipped ticks
    expect(speakingOf(userId)).toEqual([1, 0, 1, 0]); // off for the pause only
  }, 30_000);

  test('sinks in a row on one connection continue the RTP sequence and timestamp; a second sink at once waits its turn', async () => {
    const { conn, userId } = await join();
    // In a row: each track its own sink.
    const inRow = await lastValueFrom(concat(opusTone(440, 1000).pipe(voiceSink(conn)), opusTone(660, 1000).pipe(voiceSink(conn))).pipe(toArray()));
    // At once: the second reports `queued`, then plays after the first.
    const first = lastValueFrom(opusTone(440, 600).pipe(voiceSink(conn), toArray()));
    const second = lastValueFrom(opusTone(880, 600).pipe(voiceSink(conn), toArray()));
    const [a, b] = await Promise.all([first, second]);
    await sleep(100);
    conn.destroy();
    expect(a[0].status).not.toBe('queued');
    expect(b[0].status).toBe('queued');
    const r = server.receivedFrom(userId)!;
    expect(r.frames).toBe(50 + 50 + 30 + 30 + 4 * 5);
    expect(r.lost).toBe(0);
    // No step at a hand-over; a step only where an event-loop stall made a sink skip ticks (by design).
    const late = [...inRow, ...a, ...b].filter((p) => p.status === 'ended').reduce((sum, p) => sum + p.framesLate, 0);
    expect(r.timestampSteps).toBeLessThanOrEqual(late);
    expect(r.lastSequence - r.firstSequence).toBe(r.frames - 1);
    // The last 30 voiced frames are the second sink's 880 Hz.
    expect(Math.abs(dominantFrequency(r.pcm.subarray(-30 * 3840)) - 880)).toBeLessThan(3);
  }, 30_000);

  test('a hot source without demand: 60 s of frames at once all arrive, with one warning', async () => {
    const warnings: RxVoiceWarning[] = [];
    const onWarning = (w: RxVoiceWarning) => warnings.push(w);
    {
      const packets = await lastValueFrom(opusTone(440, 1000).pipe(toArray()));
      const hot = new Subject<Buffer>();
      // A fast clock (2 ms ticks) so that 3000 frames take 6 s, not 60.
      const clock = createHighResolutionClock({ frameMs: 2 });
      const { conn, userId } = await join();
      const done = lastValueFrom(hot.pipe(voiceSink(conn, { clock, onWarning }), toArray()));
      for (let i = 0; i < 3000; i++) hot.next(packets[i % 50]);
      hot.complete();
      const progress = await done;
      await sleep(200);
      conn.destroy();
      const r = server.receivedFrom(userId)!;
      expect(progress[progress.length - 1]).toMatchObject({ framesSent: 3000, droppedFrames: 0 });
      expect(r.frames - r.silenceFrames).toBe(3000);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ name: 'RxVoiceWarning', code: 'RXVOICE_NO_DEMAND' });
      expect(warnings[0].message).toMatch(/without demand.*DemandGate/s);
    }
  }, 30_000);

  test('player: a skip in track 2 plays track 1 whole, track 2 until the skip, track 3 whole; a failed track is skipped', async () => {
    const { conn, userId } = await join();
    const player = createPlayer(conn);
    const seen: PlayerEvent[] = [];
    player.events$.subscribe((e) => seen.push(e));
    const idle = lastValueFrom(player.events$.pipe(filter((e) => e.type === 'idle'), take(1)));
    player.enqueue(fx.path('tone-440-3s.wav'), { source: fx.path('missing.mp3'), title: 'missing' }, fx.path('tone-660-3s.wav'), fx.path('tone-880-3s.wav'));
    expect(player.state).toMatchObject({ status: 'buffering', positionMs: 0, track: { source: fx.path('tone-440-3s.wav') } });
    expect(player.state.queue).toHaveLength(3);
    // Skip 1 s into track 2 (the 660 Hz one: the missing file fails in between).
    await lastValueFrom(player.events$.pipe(filter((e) => e.type === 'start' && e.track.source === fx.path('tone-660-3s.wav')), take(1)));
    await sleep(1000);
    const skippedAt = player.state.positionMs;
    expect(player.state.track?.source).toBe(fx.path('tone-660-3s.wav'));
    player.skip();
    await idle;
    await sleep(100);
    conn.destroy();
    const ends = seen.filter((e): e is Extract<PlayerEvent, { type: 'end' }> => e.type === 'end');
    expect(ends.map((e) => [e.track.title, e.reason])).toEqual([
      [fx.path('tone-440-3s.wav'), 'finished'],
      ['missing', 'failed'],
      [fx.path('tone-660-3s.wav'), 'skipped'],
      [fx.path('tone-880-3s.wav'), 'finished'],
    ]);
    expect(ends[1].error).toMatchObject({ code: 'SOURCE_FAILED' });
    expect(seen.filter((e) => e.type === 'start')).toHaveLength(3);
    expect(seen[seen.length - 1]).toEqual({ type: 'idle' });
    expect(ends[0].positionMs).toBe(3000);
    expect(Math.abs(ends[2].positionMs - skippedAt)).toBeLessThanOrEqual(40);
    const r = server.receivedFrom(userId)!;
    const voiced = r.frames - r.silenceFrames;
    // ±3 frames: on the driver, the packets it sends between the main thread's skip and the
    // moment the skip reaches its thread are heard but not counted in the skipped track's end
    // position (one turn of the driver's event loop: 1 frame when idle, 3 seen under CI load).
    expect(Math.abs(voiced - (150 + ends[2].positionMs / 20 + 150))).toBeLessThanOrEqual(3);
    expect(r.lost).toBe(0);
    expect(speakingOf(userId)).toEqual([1, 0]); // gapless: no SPEAKING change between tracks
    // Track 1 then 2 then 3, as heard.
    const at = (frame: number) => dominantFrequency(r.pcm.subarray(frame * 3840, (frame + 25) * 3840));
    expect(Math.abs(at(50) - 440)).toBeLessThan(3);
    expect(Math.abs(at(170) - 660)).toBeLessThan(3);
    expect(Math.abs(at(voiced - 60) - 880)).toBeLessThan(3);
    player.destroy();
  }, 30_000);
  test('player: seek within the current track, also after it was read to its end; pause and resume', async () => {
    const { conn, userId } = await join();
    const player = createPlayer(conn);
    const seen: PlayerEvent[] = [];
    player.events$.subscribe((e) => seen.push(e));
    const idle = lastValueFrom(player.events$.pipe(filter((e) => e.type === 'idle'), take(1)));
    const started = (source: string) => lastValueFrom(player.events$.pipe(filter((e) => e.type === 'start' && e.track.source === source), take(1)));
    const twotone = fx.path('twotone.flac'); // 440 Hz for 1 s, then 880 Hz for 1 s
    const second = fx.path('tone-660-3s.wav');
    player.play(of(twotone, second)); // an Observable of tracks
    await started(twotone);
    await sleep(300);
    const before1 = player.state.positionMs;
    player.seek(1200); // into the 880 Hz half
    expect(player.state.positionMs).toBe(1200);
    await started(second);
    await sleep(2500); // the 3 s track has been read to its end by now (1 s ahead)
    player.pause();
    expect(player.state.status).toBe('paused');
    await sleep(300);
    player.resume();
    const before2 = player.state.positionMs;
    player.seek(500);
    await idle;
    await sleep(100);
    conn.destroy();
    player.destroy();
    const ends = seen.filter((e): e is Extract<PlayerEvent, { type: 'end' }> => e.type === 'end');
    expect(ends.map((e) => [e.track.source, e.reason, e.positionMs])).toEqual([
      [twotone, 'finished', 2000],
      [second, 'finished', 3000],
    ]);
    const r = server.receivedFrom(userId)!;
    const voiced = r.frames - r.silenceFrames; // (silence frames: the pause and the end)
    // The first track until the seek, then from 1.2 s to 2 s; the second until the seek, then from 0.5 s to 3 s.
    expect(before2).toBeGreaterThan(2000);
    expect(Math.abs(voiced - (before1 / 20 + 40 + before2 / 20 + 125))).toBeLessThanOrEqual(3);
    expect(r.lost).toBe(0);
    // Right after the first seek: 880 Hz (the track's second half), not 440 Hz.
    const firstVoiced = r.pcm.subarray(0, 60 * 3840);
    expect(Math.abs(dominantFrequency(firstVoiced.subarray(20 * 3840, 50 * 3840)) - 880)).toBeLessThan(3);
    expect(speakingOf(userId)).toEqual([1, 0, 1, 0]); // off only for the pause
  }, 30_000);
});
