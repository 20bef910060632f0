/**
 * Real Lavalink clients against the rxvoice node, headless (no Discord): lavalink-client 2.11
 * and Shoukaku 4.3 connect, load an mp3 served by a local HTTP server, and play it into the
 * voice emulator with DAVE on (a listener in the channel decrypts); checked: 440 Hz arrives,
 * pause/resume, seek, volume, a filter (timescale pitch 1.5 → 660 Hz), the next track on `finished`, stop, destroy.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LavalinkManager, type Player as LcPlayer, type Track as LcTrack } from 'lavalink-client';
import { Connector, Shoukaku, type NodeOption, type Player as ShPlayer, type Track as ShTrack } from 'shoukaku';
import { filter, mergeMap } from 'rxjs';
import { connectVoice, jitterBuffer, opusDecode, type VoiceConnection } from '../../../src';
import { findFfmpeg } from '../../../src/sources/findFfmpeg';
import { startLavalinkNode, type LavalinkNode } from '../../../src/server/lavalink/startLavalinkNode';
import { dominantFrequency, rms, startVoiceServer, type VoiceServer } from '../../../src/testing';

const PASSWORD = 'youshallnotpass';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FRAME = 3840;

let voice: VoiceServer;
let node: LavalinkNode;
let media: Server;
let mediaUrl: string;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-lavalink-'));
  const ffmpeg = findFfmpeg();
  const tone = (hz: number, seconds: number, name: string) =>
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}`, '-ac', '2', '-ar', '48000', '-b:a', '192k', path.join(dir, name)]);
  tone(440, 5, 'a440.mp3');
  tone(550, 2, 'b550.mp3');
  media = createServer((req, res) => {
    const file = path.join(dir, path.basename(req.url ?? ''));
    try {
      const size = statSync(file).size;
      res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': size });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
  mediaUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}`;
  voice = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
  node = await startLavalinkNode({ port: 0, address: '127.0.0.1', password: PASSWORD, dave: true, playerUpdateIntervalMs: 1000, logger: process.env.LAVALINK_DEBUG ? (e) => console.log(e.level, e.message, e.data ?? '') : undefined });
}, 30_000);

afterAll(async () => {
  for (const l of listeners) l.destroy();
  await node?.close();
  await voice?.close();
  await new Promise((r) => media?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * DAVE is on: the emulator relays end-to-end encrypted frames it cannot read, so a listener
 * (an rxvoice connection in the same channel) decrypts and decodes what each bot sends.
 */
const heard = new Map<string, Buffer[]>();
const listeners: VoiceConnection[] = [];
async function listen(guildId: string, channelId: string, botId: string, n: string): Promise<void> {
  const creds = { serverId: guildId, channelId, userId: `14${botId.slice(2)}`, sessionId: `listener-${n}`, token: `listener-token-${n}` };
  voice.registerSession(creds);
  const conn = connectVoice({ endpoint: voice.wsUrl, ...creds });
  listeners.push(conn);
  const chunks: Buffer[] = [];
  heard.set(botId, chunks);
  conn.speakers$
    .pipe(
      filter((s) => s.userId === botId),
      mergeMap((s) => s.packets$.pipe(jitterBuffer(), opusDecode())),
    )
    .subscribe((frame) => chunks.push(frame));
  await conn.ready(5000);
}
/** What the listener heard from `userId` so far (decoded PCM). */
const pcmOf = (userId: string): Buffer => Buffer.concat(heard.get(userId) ?? []);
/** The PCM received from `userId` during the next `ms`. */
async function segment(userId: string, ms: number): Promise<Buffer> {
  const start = pcmOf(userId).length;
  await sleep(ms);
  return pcmOf(userId).subarray(start);
}
async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
async function nodePlayer(sessionId: string, guildId: string): Promise<{ status: number; body: { state?: { position: number }; paused?: boolean; track?: unknown } }> {
  const r = await fetch(`http://127.0.0.1:${node.port}/v4/sessions/${sessionId}/players/${guildId}`, { headers: { Authorization: PASSWORD } });
  return { status: r.status, body: (await r.json().catch(() => ({}))) as { state?: { position: number } } };
}

/** The emulator as Discord's main gateway: answers an op 4 join with VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE pointing at the emulator. */
function voiceUpdates(guildId: string, channelId: string, userId: string, n: string) {
  const creds = { serverId: guildId, channelId, userId, sessionId: `voice-session-${n}`, token: `voice-token-${n}` };
  voice.registerSession(creds);
  return {
    state: { t: 'VOICE_STATE_UPDATE', d: { guild_id: guildId, channel_id: channelId, user_id: userId, session_id: creds.sessionId, self_deaf: false, self_mute: false } },
    server: { t: 'VOICE_SERVER_UPDATE', d: { guild_id: guildId, token: creds.token, endpoint: voice.wsUrl } },
  };
}

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
  expect(voice.receivedFrom(userId)!.e2eeFrames).toBeGreaterThan(0);

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

  // 4. Volume 50 %: lavaplayer's curve, ×0.417.
  await c.volume(50);
  await sleep(500);
  const quiet = rms(await segment(userId, 300));
  expect(quiet / loud).toBeGreaterThan(0.3);
  expect(quiet / loud).toBeLessThan(0.55);
  await c.volume(100);

  // 5. timescale pitch 1.5: 660 Hz at the emulator.
  await c.pitch(1.5);
  await sleep(500);
  const shifted = await segment(userId, 400);
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
  const updates = voiceUpdates(guildId, channelId, userId, 'lc');
  await listen(guildId, channelId, userId, 'lc');
  const events: string[] = [];
  const manager: LavalinkManager = new LavalinkManager({
    nodes: [{ id: 'rxvoice', host: '127.0.0.1', port: node.port, authorization: PASSWORD, retryAmount: 1, retryDelay: 1000, autoChecks: { sourcesValidations: false, pluginValidations: false } }],
    sendToShard: (gid, payload) => {
      const p = payload as { op: number; d: { channel_id: string | null } };
      if (p.op === 4 && gid === guildId && p.d.channel_id) {
        setTimeout(() => {
          void manager.sendRawData(updates.state as never);
          void manager.sendRawData(updates.server as never);
        }, 10);
      }
    },
    client: { id: userId, username: 'rxvoice-test' },
    autoSkip: true,
    playerOptions: { onEmptyQueue: { destroyAfterMs: -1 } },
    advancedOptions: { enableDebugEvents: false },
  });
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
    const a = await player.search({ query: `${mediaUrl}/a440.mp3` }, 'tester');
    const b = await player.search({ query: `${mediaUrl}/b550.mp3` }, 'tester');
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
  const updates = voiceUpdates(guildId, channelId, userId, 'sk');
  await listen(guildId, channelId, userId, 'sk');
  class Headless extends Connector {
    getId(): string {
      return userId;
    }
    sendPacket(_shardId: number, payload: { op: number; d: { guild_id: string; channel_id: string | null } }): Promise<void> {
      if (payload.op === 4 && payload.d.channel_id) {
        setTimeout(() => {
          this.raw(updates.state);
          this.raw(updates.server);
        }, 10);
      }
      return Promise.resolve();
    }
    listen(nodes: NodeOption[]): void {
      setImmediate(() => this.ready(nodes));
    }
  }
  const shoukaku = new Shoukaku(new Headless({}), [{ name: 'rxvoice', url: `127.0.0.1:${node.port}`, auth: PASSWORD }], { reconnectTries: 1, resume: false });
  shoukaku.on('error', () => undefined);
  await until('Shoukaku ready', () => [...shoukaku.nodes.values()].some((n) => n.sessionId !== null), 5000);
  const skNode = shoukaku.nodes.get('rxvoice')!;
  const events: string[] = [];
  try {
    const player: ShPlayer = await shoukaku.joinVoiceChannel({ guildId, channelId, shardId: 0, deaf: false });
    const a = await skNode.rest.resolve(`${mediaUrl}/a440.mp3`);
    const b = await skNode.rest.resolve(`${mediaUrl}/b550.mp3`);
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
