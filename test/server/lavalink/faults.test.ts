/**
 * Bad input, seen by real Lavalink clients (lavalink-client 2.11, Shoukaku 4.3; headless, no
 * Discord) against the rxvoice node, with the voice emulator (DAVE on) and a listener in the
 * channel that decodes what the bot sends:
 *
 * - a track that cannot be played (its URL 404s or serves garbage after it was loaded, or its
 *   server is gone): TrackStartEvent, TrackExceptionEvent, then TrackEndEvent `loadFailed` (as
 *   lavaplayer, which sends TrackStart before loading), and the node plays the next track;
 * - a track whose server stops sending in the middle (connection kept open): TrackStuckEvent
 *   with `thresholdMs` after the threshold; as Lavalink, the node does not end the track (it
 *   plays on when data comes back) and the client decides (lavalink-client skips to the next);
 * - a voice endpoint where nothing listens: WebSocketClosedEvent {code, reason, byRemote}, the
 *   node keeps running, a correct voice update afterwards plays.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LavalinkManager, type Player as LcPlayer, type Track as LcTrack } from 'lavalink-client';
import type { Track as ShTrack } from 'shoukaku';
import { filter, mergeMap } from 'rxjs';
import { connectVoice, jitterBuffer, opusDecode, type VoiceConnection } from '../../../src';
import { findFfmpeg } from '../../../src/sources/findFfmpeg';
import { startLavalinkNode, type LavalinkNode } from '../../../src/server/lavalink/startLavalinkNode';
import { dominantFrequency, startVoiceServer, type VoiceServer } from '../../../src/testing';
import { headlessShoukaku } from './harness';

const PASSWORD = 'youshallnotpass';
const FRAME = 3840;
/** The node's `trackStuckThresholdMs` in these tests. */
const STUCK_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let voice: VoiceServer;
let node: LavalinkNode;
let media: Server;
let mediaUrl: string;
let dir: string;
const files = new Map<string, Buffer>();

/**
 * How `/flaky/<file>` answers (per file name): the file, a 404, or bytes that are not audio.
 * `/stall/<file>` sends the first {@link STALL_AT_BYTES} bytes, then nothing (connection open)
 * until `releaseStall` is called, then the rest.
 */
const flaky = new Map<string, 'ok' | '404' | 'garbage'>();
/** 1.5 s of a 192 kb/s mp3. */
const STALL_AT_BYTES = 36_000;
let releaseStall: () => void = () => undefined;
let stallReleased: Promise<void> = Promise.resolve();
function armStall(): void {
  stallReleased = new Promise<void>((r) => (releaseStall = r));
}

function serve(res: ServerResponse, data: Buffer, start = 0): void {
  res.writeHead(start > 0 ? 206 : 200, {
    'Content-Type': 'audio/mpeg',
    'Accept-Ranges': 'bytes',
    'Content-Length': data.length - start,
    ...(start > 0 ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
  });
  res.end(data.subarray(start));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-faults-'));
  const ffmpeg = findFfmpeg();
  const tone = (hz: number, seconds: number, name: string) => {
    execFileSync(ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}`, '-ac', '2', '-ar', '48000', '-b:a', '192k', path.join(dir, name)]);
    files.set(name, readFileSync(path.join(dir, name)));
  };
  tone(440, 4, 'a440.mp3');
  tone(550, 3, 'b550.mp3');
  media = createServer((req, res) => {
    const [, kind, name] = /^\/(\w+)\/([\w.]+)$/.exec(req.url ?? '') ?? [];
    const data = files.get(name ?? '');
    if (!data) return void res.writeHead(404).end();
    const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (kind === 'ok') return serve(res, data, start);
    if (kind === 'flaky') {
      const how = flaky.get(name) ?? 'ok';
      if (how === '404') return void res.writeHead(404).end();
      if (how === 'garbage') {
        res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': data.length });
        return void res.end(Buffer.alloc(data.length, 0x5a)); // "ZZZZ…": no mp3 frame anywhere
      }
      return serve(res, data, start);
    }
    if (kind === 'stall') {
      res.writeHead(start > 0 ? 206 : 200, {
        'Content-Type': 'audio/mpeg',
        'Content-Length': data.length - start,
        ...(start > 0 ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
      });
      if (start >= STALL_AT_BYTES) return void res.end(data.subarray(start));
      res.write(data.subarray(start, STALL_AT_BYTES));
      void stallReleased.then(() => res.end(data.subarray(STALL_AT_BYTES)));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
  mediaUrl = `http://127.0.0.1:${(media.address() as AddressInfo).port}`;
  voice = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
  node = await startLavalinkNode({
    port: 0,
    address: '127.0.0.1',
    password: PASSWORD,
    dave: true,
    playerUpdateIntervalMs: 1000,
    trackStuckThresholdMs: STUCK_MS,
    logger: process.env.LAVALINK_DEBUG ? (e) => console.log(e.level, e.message, e.data ?? '') : undefined,
  });
}, 30_000);

afterAll(async () => {
  releaseStall();
  for (const l of listeners) l.destroy();
  await node?.close();
  await voice?.close();
  media?.closeAllConnections();
  await new Promise((r) => media?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

// ---- listener (decodes what a bot sends, at the emulator) ------------------------------------

const heard = new Map<string, Buffer[]>();
const listeners: VoiceConnection[] = [];
/** Joins an rxvoice connection to the channel that decrypts (DAVE) and decodes what `botId` sends. */
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
const pcmOf = (userId: string): Buffer => Buffer.concat(heard.get(userId) ?? []);
/** The PCM received from `userId` during the next `ms`. */
async function segment(userId: string, ms: number): Promise<Buffer> {
  const start = pcmOf(userId).length;
  await sleep(ms);
  return pcmOf(userId).subarray(start);
}
async function until(what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
/** Waits until `userId`'s audio is `hz` (±3) over 300 ms. */
async function untilTone(userId: string, hz: number, timeoutMs = 8000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await segment(userId, 300);
    if (s.length >= 10 * FRAME && Math.abs(dominantFrequency(s) - hz) <= 3) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${hz} Hz from ${userId}`);
  }
}

// ---- clients ---------------------------------------------------------------------------------

/** The emulator as Discord's main gateway: the dispatches a join would bring. */
function voiceUpdates(guildId: string, channelId: string, userId: string, n: string, endpoint = voice.wsUrl) {
  const creds = { serverId: guildId, channelId, userId, sessionId: `voice-session-${n}`, token: `voice-token-${n}` };
  voice.registerSession(creds);
  return {
    state: { t: 'VOICE_STATE_UPDATE' as const, d: { guild_id: guildId, channel_id: channelId, user_id: userId, session_id: creds.sessionId, self_deaf: false, self_mute: false } },
    server: { t: 'VOICE_SERVER_UPDATE' as const, d: { guild_id: guildId, token: creds.token, endpoint } },
  };
}

/** A message the node sent to a client (op, and for events their type and fields). */
interface Raw {
  op: string;
  type?: string;
  guildId?: string;
  reason?: string;
  thresholdMs?: number;
  code?: number;
  byRemote?: boolean;
  exception?: { message: string; severity: string; cause: string };
  track?: { info: { uri: string } };
}

/** lavalink-client, headless: `join` answers op 4 with `updates()` (read when the join happens). */
async function lavalinkClient(userId: string, guildId: string, updates: () => ReturnType<typeof voiceUpdates>) {
  const manager: LavalinkManager = new LavalinkManager({
    nodes: [{ id: 'rxvoice', host: '127.0.0.1', port: node.port, authorization: PASSWORD, retryAmount: 1, retryDelay: 1000, autoChecks: { sourcesValidations: false, pluginValidations: false } }],
    sendToShard: (gid, payload) => {
      const p = payload as { op: number; d: { channel_id: string | null } };
      if (p.op === 4 && gid === guildId && p.d.channel_id) {
        const u = updates();
        setTimeout(() => {
          void manager.sendRawData(u.state as never);
          void manager.sendRawData(u.server as never);
        }, 10);
      }
    },
    client: { id: userId, username: 'rxvoice-faults' },
    autoSkip: true,
    playerOptions: { onEmptyQueue: { destroyAfterMs: -1 } },
  });
  /** Every event/playerUpdate of this guild, in the order the node sent them. */
  const raw: Raw[] = [];
  manager.nodeManager.on('raw', (_n: unknown, payload: unknown) => {
    const m = payload as Raw;
    if (m.guildId === guildId) raw.push(m);
  });
  const connected = new Promise<void>((resolve) => manager.nodeManager.once('connect', () => resolve()));
  await manager.init({ id: userId, username: 'rxvoice-faults' });
  await connected;
  return { manager, raw, lcNode: manager.nodeManager.nodes.get('rxvoice')! };
}

/** Shoukaku, headless (the shared harness's connector): op 4 is answered with `updates`. */
async function shoukakuClient(userId: string, updates: ReturnType<typeof voiceUpdates>) {
  const { shoukaku, join } = headlessShoukaku(userId, [{ name: 'rxvoice', url: `127.0.0.1:${node.port}`, auth: PASSWORD }], { reconnectTries: 1, resume: false });
  join(updates.server.d.guild_id, updates);
  await until('Shoukaku ready', () => [...shoukaku.nodes.values()].some((n) => n.sessionId !== null), 5000);
  return { shoukaku, skNode: shoukaku.nodes.get('rxvoice')! };
}

/** The event types (and TrackEnd reasons) of `raw`, e.g. `TrackExceptionEvent`, `TrackEndEvent:loadFailed`. */
const eventsOf = (raw: Raw[]): string[] => raw.filter((m) => m.op === 'event').map((m) => (m.type === 'TrackEndEvent' ? `${m.type}:${m.reason}` : m.type!));

// ---- tests -----------------------------------------------------------------------------------

test('lavalink-client: a track that 404s after loading → TrackStart, TrackException, TrackEnd loadFailed; the next track in the queue plays', async () => {
  const userId = '1310000000000000101';
  const guildId = '1210000000000000101';
  const channelId = '1110000000000000101';
  await listen(guildId, channelId, userId, 'lf');
  const updates = voiceUpdates(guildId, channelId, userId, 'lf');
  const { manager, raw, lcNode } = await lavalinkClient(userId, guildId, () => updates);
  const seen: string[] = [];
  manager.on('trackError', (_p, _t, payload) => void seen.push(`error:${payload.exception?.message ?? ''}`));
  manager.on('trackEnd', (_p: LcPlayer, t: LcTrack | null, payload: { reason: string }) => seen.push(`end:${t?.info.title}:${payload.reason}`));
  manager.on('trackStart', (_p: LcPlayer, t: LcTrack | null) => seen.push(`start:${t?.info.title}`));
  try {
    flaky.set('a440.mp3', 'ok');
    const player = manager.createPlayer({ guildId, voiceChannelId: channelId, textChannelId: '1', selfDeaf: false, volume: 100 });
    await player.connect();
    const bad = await player.search({ query: `${mediaUrl}/flaky/a440.mp3` }, 'tester');
    const good = await player.search({ query: `${mediaUrl}/ok/b550.mp3` }, 'tester');
    expect(bad.loadType).toBe('track');
    bad.tracks[0].info.title = 'bad';
    good.tracks[0].info.title = 'good';
    flaky.set('a440.mp3', '404'); // loaded fine, gone when played
    await player.queue.add([bad.tracks[0], good.tracks[0]]);
    await until('voice sent', () => typeof player.voice?.endpoint === 'string');
    await player.play();

    await until('the next track', () => seen.includes('start:good'));
    // The node's order, as lavaplayer's: start, exception, end(loadFailed), then the next track's start.
    const events = eventsOf(raw);
    expect(events.slice(0, 4)).toEqual(['TrackStartEvent', 'TrackExceptionEvent', 'TrackEndEvent:loadFailed', 'TrackStartEvent']);
    const exception = raw.find((m) => m.type === 'TrackExceptionEvent')!.exception!;
    expect(exception.severity).toBe('common');
    expect(exception.cause).toMatch(/404/);
    // lavalink-client saw the same, and its autoSkip played the next track.
    expect(seen.slice(0, 4)).toEqual(['start:bad', expect.stringMatching(/^error:/), 'end:bad:loadFailed', 'start:good']);
    await untilTone(userId, 550);
  } finally {
    lcNode.destroy('test over', true);
  }
}, 40_000);

test('Shoukaku: garbage after loading, and a track whose server is gone → TrackStart, TrackException, TrackEnd loadFailed each; the node plays on', async () => {
  const userId = '1310000000000000102';
  const guildId = '1210000000000000102';
  const channelId = '1110000000000000102';
  await listen(guildId, channelId, userId, 'sg');
  const { shoukaku, skNode } = await shoukakuClient(userId, voiceUpdates(guildId, channelId, userId, 'sg'));
  // An encoded track whose uri points at a server that is gone: loaded from a short-lived server.
  const gone = createServer((_req, res) => serve(res, files.get('a440.mp3')!));
  await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
  const goneTrack = (await skNode.rest.resolve(`http://127.0.0.1:${(gone.address() as AddressInfo).port}/a440.mp3`))!.data as ShTrack;
  gone.closeAllConnections();
  await new Promise((r) => gone.close(r));
  flaky.set('b550.mp3', 'ok');
  const garbage = (await skNode.rest.resolve(`${mediaUrl}/flaky/b550.mp3`))!.data as ShTrack;
  flaky.set('b550.mp3', 'garbage');
  const good = (await skNode.rest.resolve(`${mediaUrl}/ok/a440.mp3`))!.data as ShTrack;
  const seen: string[] = [];
  try {
    const player = await shoukaku.joinVoiceChannel({ guildId, channelId, shardId: 0, deaf: false });
    const name = (t: { encoded: string }) => (t.encoded === goneTrack.encoded ? 'gone' : t.encoded === garbage.encoded ? 'garbage' : 'good');
    // (Shoukaku's type omits the event's `track`, which Lavalink v4 sends)
    player.on('exception', (e) => seen.push(`exception:${name((e as unknown as { track: ShTrack }).track)}:${e.exception.severity}`));
    player.on('end', (e) => seen.push(`end:${name(e.track)}:${e.reason}`));
    player.on('start', (e) => seen.push(`start:${name(e.track)}`));

    await player.playTrack({ track: { encoded: garbage.encoded } });
    await until('garbage ends', () => seen.some((e) => e.startsWith('end:garbage')));
    await player.playTrack({ track: { encoded: goneTrack.encoded } });
    await until('gone ends', () => seen.some((e) => e.startsWith('end:gone')));
    expect(seen).toEqual(['start:garbage', 'exception:garbage:common', 'end:garbage:loadFailed', 'start:gone', 'exception:gone:common', 'end:gone:loadFailed']);

    // The node still serves: a good track plays, at the emulator.
    await player.playTrack({ track: { encoded: good.encoded } });
    await until('good starts', () => seen.includes('start:good'));
    await untilTone(userId, 440);
  } finally {
    skNode.disconnect(1000, 'test over');
  }
}, 40_000);

test('Shoukaku: a server that stops sending mid-track → TrackStuckEvent {thresholdMs} after the threshold; the track is not ended and plays on when data comes back', async () => {
  const userId = '1310000000000000103';
  const guildId = '1210000000000000103';
  const channelId = '1110000000000000103';
  await listen(guildId, channelId, userId, 'st');
  const { shoukaku, skNode } = await shoukakuClient(userId, voiceUpdates(guildId, channelId, userId, 'st'));
  armStall();
  const track = (await skNode.rest.resolve(`${mediaUrl}/stall/a440.mp3`))!.data as ShTrack;
  const raw: Raw[] = [];
  shoukaku.on('raw', (_name: string, json: unknown) => {
    const m = json as Raw;
    if (m.guildId === guildId) raw.push(m);
  });
  let lastAudioAt = 0;
  let lastLength = -1;
  let stuckAt = 0;
  try {
    const player = await shoukaku.joinVoiceChannel({ guildId, channelId, shardId: 0, deaf: false });
    player.on('stuck', () => (stuckAt = Date.now()));
    await player.playTrack({ track: { encoded: track.encoded } });
    await until('TrackStart', () => eventsOf(raw).includes('TrackStartEvent'));
    await untilTone(userId, 440);
    // The server stalls after 1.5 s of audio: wait until the listener hears nothing more.
    await until('the stall', () => {
      const n = pcmOf(userId).length;
      if (n !== lastLength) {
        lastLength = n;
        lastAudioAt = Date.now();
      }
      return Date.now() - lastAudioAt > 300;
    });
    await until('TrackStuckEvent', () => stuckAt > 0, 5000);
    const stuck = raw.find((m) => m.type === 'TrackStuckEvent')!;
    expect(stuck.thresholdMs).toBe(STUCK_MS);
    expect(stuck.track?.info.uri).toBe(`${mediaUrl}/stall/a440.mp3`);
    // Reported after the threshold (the listener's last audio is ≤ ~100 ms behind the node's last send).
    expect(stuckAt - lastAudioAt).toBeGreaterThanOrEqual(STUCK_MS - 300);
    expect(stuckAt - lastAudioAt).toBeLessThan(STUCK_MS + 1000);
    // As Lavalink: a playerUpdate right after it; no TrackEnd (the track stays loaded).
    const after = raw.slice(raw.indexOf(stuck) + 1);
    expect(after[0]?.op).toBe('playerUpdate');
    await sleep(1000);
    expect(eventsOf(raw)).toEqual(['TrackStartEvent', 'TrackStuckEvent']);
    expect(eventsOf(raw).filter((e) => e === 'TrackStuckEvent')).toHaveLength(1); // once per track

    // Data comes back: the same track plays on to its end.
    releaseStall();
    await untilTone(userId, 440);
    await until('TrackEnd', () => eventsOf(raw).some((e) => e.startsWith('TrackEndEvent')), 8000);
    expect(eventsOf(raw)).toEqual(['TrackStartEvent', 'TrackStuckEvent', 'TrackEndEvent:finished']);
  } finally {
    skNode.disconnect(1000, 'test over');
  }
}, 40_000);

test('lavalink-client: on TrackStuckEvent the client skips to the next track (TrackEnd replaced), which plays', async () => {
  const userId = '1310000000000000104';
  const guildId = '1210000000000000104';
  const channelId = '1110000000000000104';
  await listen(guildId, channelId, userId, 'ls');
  const updates = voiceUpdates(guildId, channelId, userId, 'ls');
  const { manager, raw, lcNode } = await lavalinkClient(userId, guildId, () => updates);
  armStall();
  let stuck: { thresholdMs: number } | null = null;
  manager.on('trackStuck', (_p: LcPlayer, _t: LcTrack | null, payload: { thresholdMs: number }) => (stuck = payload));
  try {
    const player = manager.createPlayer({ guildId, voiceChannelId: channelId, textChannelId: '1', selfDeaf: false, volume: 100 });
    await player.connect();
    const stalling = await player.search({ query: `${mediaUrl}/stall/a440.mp3` }, 'tester');
    const next = await player.search({ query: `${mediaUrl}/ok/b550.mp3` }, 'tester');
    await player.queue.add([stalling.tracks[0], next.tracks[0]]);
    await until('voice sent', () => typeof player.voice?.endpoint === 'string');
    await player.play();
    await untilTone(userId, 440);
    await until('trackStuck', () => stuck !== null, 6000);
    expect(stuck!.thresholdMs).toBe(STUCK_MS);
    await untilTone(userId, 550);
    expect(eventsOf(raw)).toEqual(['TrackStartEvent', 'TrackStuckEvent', 'TrackEndEvent:replaced', 'TrackStartEvent']);
  } finally {
    releaseStall();
    lcNode.destroy('test over', true);
  }
}, 40_000);

test('lavalink-client: a voice endpoint where nothing listens → WebSocketClosedEvent {code, reason, byRemote}; the node keeps serving; a correct voice update plays', async () => {
  const userId = '1310000000000000105';
  const guildId = '1210000000000000105';
  const channelId = '1110000000000000105';
  await listen(guildId, channelId, userId, 'ws');
  // A port where nothing listens (bound, then closed).
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  let updates = voiceUpdates(guildId, channelId, userId, 'ws', `ws://127.0.0.1:${deadPort}`);
  const { manager, raw, lcNode } = await lavalinkClient(userId, guildId, () => updates);
  const socketClosed: { code: number; reason: string; byRemote: boolean }[] = [];
  manager.on('playerSocketClosed', (_p: LcPlayer, payload: { code: number; reason: string; byRemote: boolean }) => void socketClosed.push(payload));
  try {
    const player = manager.createPlayer({ guildId, voiceChannelId: channelId, textChannelId: '1', selfDeaf: false, volume: 100 });
    await player.connect();
    const a = await player.search({ query: `${mediaUrl}/ok/a440.mp3` }, 'tester');
    await player.queue.add(a.tracks[0]);
    await until('voice sent', () => typeof player.voice?.endpoint === 'string');
    await player.play();

    await until('WebSocketClosedEvent', () => socketClosed.length > 0, 5000);
    expect(socketClosed[0]).toEqual({ op: 'event', type: 'WebSocketClosedEvent', guildId, code: expect.any(Number), reason: expect.any(String), byRemote: false });
    expect(socketClosed[0].reason).not.toBe('');
    // The node is fine: REST answers, nothing was played.
    const info = await fetch(`http://127.0.0.1:${node.port}/v4/info`, { headers: { Authorization: PASSWORD } });
    expect(info.status).toBe(200);
    expect(pcmOf(userId).length).toBe(0);

    // Discord sends a new VOICE_SERVER_UPDATE with a working endpoint: the track plays.
    updates = voiceUpdates(guildId, channelId, userId, 'ws2');
    await manager.sendRawData(updates.state as never);
    await manager.sendRawData(updates.server as never);
    const sentAt = Date.now();
    await until('audio', () => pcmOf(userId).length > 0, 8000);
    expect(Date.now() - sentAt).toBeLessThan(3000); // the connection is re-made at once, not at its next backoff
    await untilTone(userId, 440);
    expect(eventsOf(raw)).toContain('TrackStartEvent');
  } finally {
    lcNode.destroy('test over', true);
  }
}, 40_000);
