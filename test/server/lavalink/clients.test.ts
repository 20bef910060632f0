/**
 * Real Lavalink clients against the rxvoice node, headless (no Discord): lavalink-client 2.11
 * and Shoukaku 4.3 connect, load an mp3 served by a local HTTP server, and play it into the
 * voice emulator with DAVE on (a listener in the channel decrypts); checked: 440 Hz arrives,
 * pause/resume, seek, volume, a filter (timescale pitch 1.5 → 660 Hz), the next track on `finished`, stop, destroy.
 */
import type { Player as LcPlayer, Track as LcTrack } from 'lavalink-client';
import type { Player as ShPlayer, Track as ShTrack } from 'shoukaku';
import { dominantFrequency, rms } from '../../../src/testing';
import type { LavalinkNode } from '../../../src/server/lavalink/startLavalinkNode';
import { FRAME, PASSWORD, headlessLavalinkClient, headlessShoukaku, lcNodeOptions, nodeGet, sleep, startHarness, until, type Harness, type Listener } from './harness';

let h: Harness;
let node: LavalinkNode;
let urls: { a: string; b: string };

beforeAll(async () => {
  h = await startHarness();
  urls = { a: h.tone(440, 7, 'a440.mp3'), b: h.tone(550, 2, 'b550.mp3') };
  node = await h.startNode();
}, 30_000);

afterAll(async () => {
  await h?.close();
});

/**
 * DAVE is on: the emulator relays end-to-end encrypted frames it cannot read, so a listener
 * (an rxvoice connection in the same channel) decrypts and decodes what each bot sends.
 */
const heard = new Map<string, Listener>();
async function listen(guildId: string, channelId: string, botId: string): Promise<void> {
  heard.set(botId, await h.listen(guildId, channelId, botId));
}
/** The PCM received from `userId` during the next `ms`. */
const segment = (userId: string, ms: number): Promise<Buffer> => heard.get(userId)!.segment(ms);
/**
 * The first `ms` of audio from `userId` that is whole (a seek restarts ffmpeg over http, which
 * takes longer on a loaded machine): segments are taken until one holds all but 5 frames.
 */
async function audible(userId: string, ms: number, timeoutMs = 4000): Promise<Buffer> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await segment(userId, ms);
    if (s.length >= (ms / 20 - 5) * FRAME || Date.now() > end) return s;
  }
}
const nodePlayer = (sessionId: string, guildId: string) => nodeGet<{ state?: { position: number }; paused?: boolean; track?: unknown }>(node, `/v4/sessions/${sessionId}/players/${guildId}`);

/** Checks shared by both clients, at the emulator; `control` drives the client. */
interface Control {
  sessionId(): string;
  pause(paused: boolean): Promise<void>;
  seek(ms: number): Promise<void>;
  volume(percent: number): Promise<void>;
  pitch(p: number | null): Promise<void>;
  stop(): Promise<void>;
  destroy(): Promise<void>;
  /** Track events the client saw: `start:<title>` / `end:<title>:<reason>`. */
  events: string[];
}

async function exercise(c: Control, userId: string, guildId: string): Promise<void> {
  await until('TrackStart', () => c.events.some((e) => e.startsWith('start:')));
  // 1. The tone arrives, end-to-end encrypted (DAVE) at the emulator.
  await sleep(200);
  const first = await segment(userId, 600);
  expect(first.length).toBeGreaterThan(20 * FRAME);
  expect(Math.abs(dominantFrequency(first) - 440)).toBeLessThanOrEqual(2);
  const loud = rms(first);
  expect(h.voice.receivedFrom(userId)!.e2eeFrames).toBeGreaterThan(0);

  // 2. Pause: nothing but the trailing silence; resume: audio again.
  await c.pause(true);
  await sleep(300);
  const paused = await segment(userId, 400); // at most the tail of the trailing silence, through the listener's jitter buffer
  expect(paused.length).toBeLessThanOrEqual(5 * FRAME);
  expect((await nodePlayer(c.sessionId(), guildId)).body.paused).toBe(true);
  await c.pause(false);
  await sleep(150);
  expect((await segment(userId, 300)).length).toBeGreaterThan(8 * FRAME);

  // 3. Seek: the node reports the new position at once (within 100 ms).
  await c.seek(2500);
  const pos = (await nodePlayer(c.sessionId(), guildId)).body.state?.position ?? -1;
  expect(pos).toBeGreaterThanOrEqual(2500);
  expect(pos).toBeLessThanOrEqual(2600);

  await audible(userId, 200); // playing again after the seek

  // 4. Volume 50 %: lavaplayer's curve, ×0.417.
  await c.volume(50);
  await sleep(500);
  const quiet = rms(await audible(userId, 300));
  expect(quiet / loud).toBeGreaterThan(0.3);
  expect(quiet / loud).toBeLessThan(0.55);
  await c.volume(100);

  // 5. timescale pitch 1.5: 660 Hz at the emulator.
  await c.pitch(1.5);
  await sleep(500);
  const shifted = await audible(userId, 400);
  expect(Math.abs(dominantFrequency(shifted) - 660)).toBeLessThanOrEqual(2);
  await c.pitch(null);

  // 6. The first track finishes; the client plays the second (550 Hz) on `finished`.
  await until('the second track', () => c.events.some((e) => e === 'start:b550'), 6000);
  expect(c.events).toContain('end:a440:finished');
  await sleep(300);
  const second = await segment(userId, 500);
  expect(Math.abs(dominantFrequency(second) - 550)).toBeLessThanOrEqual(2);

  // 7. Stop: TrackEnd stopped, then silence.
  await c.stop();
  // (lavalink-client has dropped its current track by then: the title may be unknown)
  await until(`TrackEnd stopped in ${c.events.join(', ')}`, () => c.events.some((e) => e.startsWith('end:') && e.endsWith(':stopped')));
  await sleep(200);
  expect((await segment(userId, 300)).length).toBe(0);

  // 8. Destroy: the player is gone from the node, the voice session ends.
  await c.destroy();
  await until('the player gone', () => true);
  await sleep(200);
  expect((await nodePlayer(c.sessionId(), guildId)).status).toBe(404);
}

test('lavalink-client 2.11: connect, load over http, play, pause/resume, seek, volume, pitch, next track on finished, stop, destroy', async () => {
  const userId = '1310000000000000011';
  const guildId = '1210000000000000011';
  const channelId = '1110000000000000011';
  const updates = h.voiceUpdates(guildId, channelId, userId);
  await listen(guildId, channelId, userId);
  const events: string[] = [];
  const { manager, join } = headlessLavalinkClient(userId, [lcNodeOptions('rxvoice', node, { retryAmount: 1, retryDelay: 1000 })]);
  join(guildId, updates);
  manager.on('trackStart', (_p: LcPlayer, t: LcTrack | null) => events.push(`start:${t?.info.title}`));
  manager.on('trackEnd', (_p: LcPlayer, t: LcTrack | null, payload: { reason: string }) => events.push(`end:${t?.info.title}:${payload.reason}`));
  // With an empty queue, lavalink-client reports a TrackEndEvent as queueEnd.
  manager.on('queueEnd', (_p, t, payload) => void events.push(`end:${t?.info.title}:${'reason' in payload ? payload.reason : payload.type}`));
  const connected = new Promise<void>((resolve) => manager.nodeManager.once('connect', () => resolve()));
  await manager.init({ id: userId, username: 'rxvoice-test' });
  await connected;
  const lcNode = manager.nodeManager.nodes.get('rxvoice')!;
  try {
    const player = manager.createPlayer({ guildId, voiceChannelId: channelId, textChannelId: '1', selfDeaf: false, volume: 100 });
    await player.connect();
    const a = await player.search({ query: urls.a }, 'tester');
    const b = await player.search({ query: urls.b }, 'tester');
    expect(a.loadType).toBe('track');
    expect(a.tracks[0].info).toMatchObject({ sourceName: 'http', isStream: false });
    a.tracks[0].info.title = 'a440';
    b.tracks[0].info.title = 'b550';
    await player.queue.add([a.tracks[0], b.tracks[0]]);
    await until('voice sent', () => player.voice?.endpoint !== undefined && player.voice.endpoint !== null);
    await player.play();
    await exercise(
      {
        events,
        sessionId: () => lcNode.sessionId!,
        pause: async (p) => void (p ? await player.pause() : await player.resume()),
        seek: async (ms) => void (await player.seek(ms)),
        volume: async (v) => void (await player.setVolume(v)),
        pitch: async (p) => void (p === null ? await player.filterManager.resetFilters() : await player.filterManager.setPitch(p)),
        stop: async () => void (await player.stopPlaying(true, false)),
        destroy: async () => void (await player.destroy()),
      },
      userId,
      guildId,
    );
  } finally {
    lcNode.destroy('test over', true);
  }
}, 40_000);

test('Shoukaku 4.3: connect, load over http, play, pause/resume, seek, volume, pitch, next track on finished, stop, destroy', async () => {
  const userId = '1310000000000000012';
  const guildId = '1210000000000000012';
  const channelId = '1110000000000000012';
  const updates = h.voiceUpdates(guildId, channelId, userId);
  await listen(guildId, channelId, userId);
  const { shoukaku, join } = headlessShoukaku(userId, [{ name: 'rxvoice', url: `127.0.0.1:${node.port}`, auth: PASSWORD }], { reconnectTries: 1, resume: false });
  join(guildId, updates);
  await until('Shoukaku ready', () => [...shoukaku.nodes.values()].some((n) => n.sessionId !== null), 5000);
  const skNode = shoukaku.nodes.get('rxvoice')!;
  const events: string[] = [];
  try {
    const player: ShPlayer = await shoukaku.joinVoiceChannel({ guildId, channelId, shardId: 0, deaf: false });
    const a = await skNode.rest.resolve(urls.a);
    const b = await skNode.rest.resolve(urls.b);
    expect(a?.loadType).toBe('track');
    const ta = a!.data as ShTrack;
    const tb = b!.data as ShTrack;
    const titles = new Map([[ta.encoded, 'a440'], [tb.encoded, 'b550']]);
    player.on('start', (e) => events.push(`start:${titles.get(e.track.encoded)}`));
    player.on('end', (e) => {
      events.push(`end:${titles.get(e.track.encoded)}:${e.reason}`);
      if (e.reason === 'finished' && e.track.encoded === ta.encoded) void player.playTrack({ track: { encoded: tb.encoded } });
    });
    await player.playTrack({ track: { encoded: ta.encoded } });
    await exercise(
      {
        events,
        sessionId: () => skNode.sessionId!,
        pause: async (p) => player.setPaused(p),
        seek: async (ms) => player.seekTo(ms),
        volume: async (v) => player.setGlobalVolume(v),
        pitch: async (p) => (p === null ? player.clearFilters() : player.setTimescale({ pitch: p })),
        stop: async () => player.stopTrack(),
        destroy: async () => shoukaku.leaveVoiceChannel(guildId),
      },
      userId,
      guildId,
    );
  } finally {
    skNode.disconnect(1000, 'test over');
  }
}, 40_000);
