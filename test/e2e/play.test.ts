import { lastValueFrom, tap, toArray, type Observable } from 'rxjs';
import { mix } from '../../src/operators/mix';
import { opusEncode } from '../../src/operators/opusEncode';
import { timescale } from '../../src/operators/timescale';
import { volume } from '../../src/operators/volume';
import { createPlaybackControl } from '../../src/sinks/createPlaybackControl';
import { voiceSink } from '../../src/sinks/voiceSink';
import { AudioSourceError, FfmpegNotFoundError, ffmpegSource, findFfmpeg, oggOpusSource, webmOpusSource } from '../../src/sources';
import { alignedSnr, dominantFrequency, frequencyPower, rms, startVoiceServer, type VoiceServer } from '../../src/testing';
import { makeFixtures, type Fixtures } from '../sources/helpers';
import { joinEmulator, playIntoEmulator } from '../helpers/joinEmulator';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('playing into the emulator', () => {
  let server: VoiceServer;
  let fx: Fixtures;
  beforeAll(async () => {
    fx = makeFixtures(['tone.wav', 'tone.mp3', 'tone.flac', 'tone.ogg', 'tone.webm', 'tone660.wav', 'chirp.wav', 'corrupt.mp3']);
    server = await startVoiceServer();
  });
  afterAll(async () => {
    await server.close();
    fx.remove();
  });

  const join = () => joinEmulator(server, 'bot');

  const play = (opus$: Observable<Buffer>, options: Parameters<typeof voiceSink>[1] = {}) => playIntoEmulator(server, 'bot', opus$, options);

  test.each(['tone.mp3', 'tone.wav', 'tone.flac'])('%s through ffmpeg -> 440 Hz for 1 s, no loss, no decrypt failures', async (file) => {
    const { received: r } = await play(ffmpegSource(fx.path(file)).pipe(opusEncode()));
    expect(Math.abs(dominantFrequency(r.pcm) - 440)).toBeLessThan(2);
    expect(Math.abs(r.durationMs - 1000)).toBeLessThanOrEqual(40); // mp3 adds encoder padding
    expect(r.lost + r.decryptFailures + r.decodeFailures).toBe(0);
    expect(r.silenceFrames).toBe(5);
  });

  test.each([
    ['tone.ogg', oggOpusSource],
    ['tone.webm', webmOpusSource],
  ] as const)('%s passthrough: the emulator receives byte-identical Opus payloads', async (file, source) => {
    const packets = await lastValueFrom(source(fx.path(file)).pipe(toArray()));
    const { received: r } = await play(source(fx.path(file)));
    expect(r.payloads.length).toBe(packets.length);
    r.payloads.forEach((p, i) => expect(p.equals(packets[i])).toBe(true));
  });

  test('volume(0.5) halves the RMS (±5 %)', async () => {
    const full = (await play(ffmpegSource(fx.path('tone.wav')).pipe(opusEncode()))).received;
    const half = (await play(ffmpegSource(fx.path('tone.wav')).pipe(volume(0.5), opusEncode()))).received;
    const ratio = rms(half.pcm) / rms(full.pcm);
    expect(ratio).toBeGreaterThan(0.475);
    expect(ratio).toBeLessThan(0.525);
  });

  test('mix of 440 and 660 Hz: both arrive', async () => {
    const { received: r } = await play(mix(ffmpegSource(fx.path('tone.wav')), ffmpegSource(fx.path('tone660.wav'))).pipe(opusEncode()));
    const p440 = frequencyPower(r.pcm, 440);
    const p660 = frequencyPower(r.pcm, 660);
    const p550 = frequencyPower(r.pcm, 550);
    expect(p440).toBeGreaterThan(100 * p550);
    expect(p660).toBeGreaterThan(100 * p550);
  });

  test('seek of a playing stream starts within 20 ms of the target', async () => {
    const control = createPlaybackControl();
    const { conn, userId } = await join();
    const reference = Buffer.concat(await lastValueFrom(ffmpegSource(fx.path('chirp.wav')).pipe(toArray())));
    const done = lastValueFrom(ffmpegSource(fx.path('chirp.wav')).pipe(opusEncode(), voiceSink(conn, { control })));
    while ((server.receivedFrom(userId)?.frames ?? 0) < 10) await sleep(10);
    control.seek(1500);
    expect((await done).positionMs).toBe(3000);
    await sleep(60);
    conn.destroy();
    const r = server.receivedFrom(userId)!;
    // The last 1500 ms that arrived are the chirp from 1500 ms on: find where a 400 ms window,
    // 200 ms after the seek point, sits in the source.
    const frames = r.pcm.length / 3840;
    const firstAfterSeek = frames - (3000 - 1500) / 20;
    const window = r.pcm.subarray((firstAfterSeek + 10) * 3840, (firstAfterSeek + 30) * 3840);
    const { lagSamples } = alignedSnr(window, reference, { maxLagMs: 3000 });
    const foundMs = (312 - lagSamples) / 48 - 200; // undo the Opus decoder delay (312 samples) and the window offset
    expect(Math.abs(foundMs - 1500)).toBeLessThanOrEqual(20);
  });

  test('through timescale, positionMs and seek stay on the input timeline; pitch 1.5 → 660 Hz', async () => {
    const control = createPlaybackControl();
    const { conn, userId } = await join();
    const progress: Array<{ positionMs: number; framesSent: number }> = [];
    const done = lastValueFrom(
      ffmpegSource(fx.path('chirp.wav')).pipe(
        timescale({ speed: 1.5 }),
        opusEncode(),
        voiceSink(conn, { control, progressEveryMs: 20 }),
        tap((p) => progress.push({ positionMs: p.positionMs, framesSent: p.framesSent })),
      ),
    );
    while ((server.receivedFrom(userId)?.frames ?? 0) < 25) await sleep(10);
    const beforeSeek = progress.filter((p) => p.framesSent > 5);
    const a = beforeSeek[0]!;
    const b = beforeSeek[beforeSeek.length - 1]!;
    // 1.5× speed: each 20 ms frame is 30 ms of the input.
    expect((b.positionMs - a.positionMs) / (b.framesSent - a.framesSent)).toBeCloseTo(30, 0);
    const seekAt = progress.length;
    control.seek(1500);
    const last = await done;
    const afterSeek = progress.slice(seekAt).filter((p) => p.positionMs >= 1500);
    expect(afterSeek[0]!.positionMs).toBeLessThan(1500 + 100);
    // The input's end (3000 ms), give or take the padding of the stretcher's last frame.
    expect(Math.abs(last.positionMs - 3000)).toBeLessThanOrEqual(40);
    // Frames after the seek: 1500 ms of input at 1.5× ≈ 50 frames (+ the stretcher's latency, padding).
    const sentAfterSeek = last.framesSent - afterSeek[0]!.framesSent;
    expect(sentAfterSeek).toBeGreaterThanOrEqual(45);
    expect(sentAfterSeek).toBeLessThanOrEqual(56);
    conn.destroy();

    const second = await play(ffmpegSource(fx.path('tone.wav')).pipe(timescale({ pitch: 1.5 }), opusEncode()));
    expect(Math.abs(dominantFrequency(second.received.pcm) - 660)).toBeLessThan(3);
  });

  test('a corrupt file gives a typed error, and the connection plays the next track', async () => {
    const { conn, userId } = await join();
    const err = await lastValueFrom(ffmpegSource(fx.path('corrupt.mp3')).pipe(opusEncode(), voiceSink(conn))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AudioSourceError);
    const last = await lastValueFrom(ffmpegSource(fx.path('tone.wav')).pipe(opusEncode(), voiceSink(conn)));
    expect(last.status).toBe('ended');
    await sleep(60);
    expect(Math.abs(dominantFrequency(server.receivedFrom(userId)!.pcm) - 440)).toBeLessThan(2);
    conn.destroy();
  });

  test('no ffmpeg: a typed error that says how to fix it', async () => {
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
    try {
      const err = await lastValueFrom(ffmpegSource(fx.path('tone.wav'))).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FfmpegNotFoundError);
      expect((err as Error).message).toMatch(/FFMPEG_PATH/);
    } finally {
      if (saved === undefined) delete process.env.FFMPEG_PATH;
      else process.env.FFMPEG_PATH = saved;
      findFfmpeg({ refresh: true });
    }
  });
});
