import { lastValueFrom, toArray } from 'rxjs';
import { createPlaybackControl } from '../../src/sinks/createPlaybackControl';
import { voiceSink } from '../../src/sinks/voiceSink';
import { dominantFrequency, startVoiceServer, type VoiceServer, type VoiceServerEvent } from '../../src/testing';
import { opusTone } from '../helpers/opusTone';
import { joinEmulator } from '../helpers/joinEmulator';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('voiceSink against the emulator', () => {
  let server: VoiceServer;
  const events: VoiceServerEvent[] = [];
  beforeAll(async () => {
    server = await startVoiceServer();
    server.events$.subscribe((e) => events.push(e));
  });
  afterAll(() => server.close());

  const join = (mode?: 'aead_aes256_gcm_rtpsize' | 'aead_xchacha20_poly1305_rtpsize') => joinEmulator(server, 'player', { mode });

  test.each(['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'] as const)(
    'plays a 1 s 440 Hz tone paced at 20 ms in %s, speaking on then off, 5 silence frames',
    async (mode) => {
      const { conn, userId } = await join(mode);
      const progress = await lastValueFrom(opusTone(440, 1000).pipe(voiceSink(conn, { progressEveryMs: 200 }), toArray()));
      await sleep(60);
      const last = progress[progress.length - 1];
      expect(last).toMatchObject({ status: 'ended', positionMs: 1000, framesSent: 50, silenceFramesSent: 5, droppedFrames: 0 });
      const r = server.receivedFrom(userId)!;
      expect(r.frames).toBe(55);
      expect(r.silenceFrames).toBe(5);
      expect(r.decryptFailures).toBe(0);
      expect(r.lost).toBe(0);
      // A timestamp step only where an event-loop stall made the clock skip ticks (by design:
      // the timestamp follows the stalled time instead of bursting).
      expect(r.timestampSteps).toBeLessThanOrEqual(last.framesLate);
      expect(r.durationMs).toBe(1000);
      expect(Math.abs(dominantFrequency(r.pcm) - 440)).toBeLessThan(2);
      // Paced, not burst (a burst is ~20 ms off per packet); pacing figures belong to the bench,
      // so this only needs a margin for a loaded machine (2.6 ms seen under CI's parallel jest).
      expect(r.pacing.p50).toBeLessThan(6);
      const speaking = events.filter((e) => e.type === 'speaking' && e.userId === userId).map((e) => (e as { flags: number }).flags);
      expect(speaking).toEqual([1, 0]);
      conn.destroy();
    },
  );

  test('pause sends 5 silence frames and holds the source; resume continues', async () => {
    const { conn, userId } = await join();
    const control = createPlaybackControl();
    const done = lastValueFrom(opusTone(660, 1000).pipe(voiceSink(conn, { control }), toArray()));
    await sleep(400);
    control.pause();
    await sleep(400);
    const during = server.receivedFrom(userId)!;
    expect(during.silenceFrames).toBe(5);
    const heldAt = during.frames;
    await sleep(200);
    expect(server.receivedFrom(userId)!.frames).toBe(heldAt); // nothing while paused
    control.resume();
    const progress = await done;
    await sleep(60);
    const r = server.receivedFrom(userId)!;
    expect(progress[progress.length - 1]).toMatchObject({ status: 'ended', framesSent: 50 });
    expect(r.frames - r.silenceFrames).toBe(50);
    expect(r.silenceFrames).toBe(10);
    expect(progress.some((p) => p.status === 'paused')).toBe(true);
    conn.destroy();
  });

  test('stop ends early with silence frames; a destroyed connection errors the sink with a typed error', async () => {
    const { conn, userId } = await join();
    const control = createPlaybackControl();
    const done = lastValueFrom(opusTone(440, 5000).pipe(voiceSink(conn, { control })));
    await sleep(300);
    control.stop();
    const last = await done;
    expect(last.status).toBe('ended');
    expect(last.framesSent).toBeLessThan(30);
    await sleep(50);
    expect(server.receivedFrom(userId)!.silenceFrames).toBe(5);
    const err = lastValueFrom(opusTone(440, 5000).pipe(voiceSink(conn))).catch((e: unknown) => e);
    await sleep(100);
    conn.destroy();
    expect(await err).toMatchObject({ code: 'CONNECTION_CLOSED' });
  });

  test('five connections play at once', async () => {
    const joined = await Promise.all([1, 2, 3, 4, 5].map(() => join()));
    await Promise.all(joined.map(({ conn }, i) => lastValueFrom(opusTone(300 + 100 * i, 1000).pipe(voiceSink(conn)))));
    await sleep(60);
    joined.forEach(({ conn, userId }, i) => {
      const r = server.receivedFrom(userId)!;
      expect(r.frames - r.silenceFrames).toBe(50);
      expect(Math.abs(dominantFrequency(r.pcm) - (300 + 100 * i))).toBeLessThan(2);
      conn.destroy();
    });
  });
});
