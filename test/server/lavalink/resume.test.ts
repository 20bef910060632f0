/**
 * Session resuming driven by the clients themselves, against an rxvoice node, with a listener
 * in the voice channel (emulator, DAVE on) measuring what the bot sends:
 * - lavalink-client 2.11 and Shoukaku 4.3 enable resuming, their WebSocket to the node dies
 *   (terminated under them), they reconnect on their own with `Session-Id` → `ready` with
 *   `resumed: true`, the player on the node is the same (track, position moving on, volume,
 *   filters), and playback never stopped: no gap over 200 ms between the bot's packets at the
 *   listener across the drop;
 * - a session not resumed within its timeout is destroyed: players gone, voice left; the
 *   client coming back later gets a new session (`resumed: false`);
 * - the WebSocket endpoint survives malformed upgrades and garbage from clients.
 */
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Player as LcPlayer } from 'lavalink-client';
import type { Track as ShTrack } from 'shoukaku';
import { WebSocket } from 'ws';
import type { LavalinkNode } from '../../../src/server/lavalink/startLavalinkNode';
import { dominantFrequency } from '../../../src/testing';
import { FRAME, headlessLavalinkClient, headlessShoukaku, lcNodeOptions, nodeGet, PASSWORD, playersOf, sleep, startHarness, until, type Harness, type Listener } from './harness';

/** Longest silence between the bot's packets allowed across a resume, ms. */
const MAX_GAP_MS = 200;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 30_000);
afterAll(async () => {
  await h?.close();
});

/** Checks that the listener hears `hz` now. */
async function expectTone(l: Listener, hz: number): Promise<void> {
  const pcm = await l.segment(500);
  expect(pcm.length).toBeGreaterThan(15 * FRAME);
  expect(Math.round(dominantFrequency(pcm))).toBe(hz);
}

/** A lavalink-client manager on `node`, one player in a new guild playing a 40 s tone of `hz`. */
async function lcPlaying(node: LavalinkNode, botId: string, guildId: string, channelId: string, hz: number) {
  const url = h.tone(hz, 40, `r${guildId}.mp3`);
  const listener = await h.listen(guildId, channelId, botId);
  const { manager, join } = headlessLavalinkClient(botId, [lcNodeOptions('n', node, { retryAmount: 5, retryDelay: 300 })]);
  join(guildId, h.voiceUpdates(guildId, channelId, botId));
  await manager.init({ id: botId, username: 'rxvoice-test' });
  const lcNode = manager.nodeManager.nodes.get('n')!;
  await until('node ready', () => !!lcNode.sessionId && !!lcNode.info);
  const player: LcPlayer = manager.createPlayer({ guildId, voiceChannelId: channelId, textChannelId: '1', selfDeaf: false, volume: 100 });
  await player.connect();
  const res = await player.search({ query: url }, 'tester');
  await player.queue.add(res.tracks[0]);
  await until('voice sent', () => !!player.voice?.endpoint);
  await player.play();
  await until('audio', () => listener.arrivals.length > 25, 8000);
  return { manager, lcNode, player, listener, url };
}

/** lavalink-client keeps its socket private; the test kills it under the client (as a network failure would). */
const killSocket = (lcNode: object): void => (lcNode as { socket: WebSocket }).socket.terminate();

test('lavalink-client 2.11: resuming on, the socket dies, the client resumes its session; playback never stops', async () => {
  const botId = '1310000000000000301';
  const guildId = '121000000000003010';
  const node = await h.startNode();
  const { manager, lcNode, player, listener, url } = await lcPlaying(node, botId, guildId, '111000000000003010', 440);
  try {
    // Resuming enabled by the client, 60 s. lavalink-client reconnects on its own after a close,
    // and sends Session-Id with the id it was given in its node options: the documented way to
    // resume is to keep the session id and hand it back, which is what the bot does here.
    const sessionId = lcNode.sessionId!;
    expect(await lcNode.updateSession(true, 60)).toMatchObject({ resuming: true, timeout: 60 });
    lcNode.options.sessionId = sessionId;
    await player.setVolume(80);
    await player.filterManager.setPitch(1.25); // 550 Hz at the listener
    await sleep(800);
    await expectTone(listener, 550);

    const resumed: { resumed: boolean; sessionId: string; players: unknown }[] = [];
    manager.nodeManager.on('resumed', (_n, payload, players) => void resumed.push({ resumed: payload.resumed, sessionId: payload.sessionId, players }));
    const updates: number[] = [];
    manager.on('playerUpdate', (_old, p) => void (p.guildId === guildId && updates.push(performance.now())));
    const before = (await playersOf(node, sessionId))[0];

    // The client's socket dies.
    const droppedAt = performance.now();
    killSocket(lcNode);
    await until('ready {resumed: true}', () => resumed.length > 0, 5000);
    const resumedAt = performance.now();
    console.log(`lavalink-client: socket killed → resumed in ${Math.round(resumedAt - droppedAt)} ms`);
    expect(resumed[0]).toMatchObject({ resumed: true, sessionId });
    expect(lcNode.sessionId).toBe(sessionId);
    // The players the client fetched on `resumed`: this guild's, with its track.
    expect(Array.isArray(resumed[0].players) && (resumed[0].players as { guildId: string }[]).map((p) => p.guildId)).toEqual([guildId]);
    // A playerUpdate follows the resume at once.
    await until('a playerUpdate after the resume', () => updates.some((t) => t >= resumedAt - 50), 2000);

    // Playback never stopped: the bot's packets kept coming across the drop.
    await sleep(1000);
    // From just before the drop (a gap spanning it counts); the 2 s before it are logged as the baseline.
    const gap = listener.maxGap(droppedAt - 100, performance.now());
    console.log(`lavalink-client: longest gap between the bot's packets across the drop: ${Math.round(gap)} ms (in the 2 s before it: ${Math.round(listener.maxGap(droppedAt - 2000, droppedAt))} ms)`);
    expect(gap).toBeLessThanOrEqual(MAX_GAP_MS);
    await expectTone(listener, 550);

    // The node's player is the one from before: same track, volume, filters; position went on.
    expect(node.sessionCount).toBe(1);
    const after = (await playersOf(node, sessionId))[0];
    expect(after.track?.info.uri).toBe(url);
    expect(after).toMatchObject({ guildId, paused: false, volume: 80, filters: before.filters, state: { connected: true } });
    expect(after.state.position).toBeGreaterThan(before.state.position + 1000);
    // One voice session for the bot all along.
    expect(h.voice.sessionHistory(botId).filter((s) => s.serverId === guildId)).toHaveLength(1);
  } finally {
    lcNode.destroy('test over', true);
  }
}, 60_000);

test('lavalink-client 2.11: a session not resumed within its timeout is destroyed (players gone, voice left); the late client gets a new session', async () => {
  const botId = '1310000000000000302';
  const guildId = '121000000000003020';
  const node = await h.startNode();
  const { manager, lcNode, listener } = await lcPlaying(node, botId, guildId, '111000000000003020', 440);
  try {
    const sessionId = lcNode.sessionId!;
    await lcNode.updateSession(true, 1);
    lcNode.options.sessionId = sessionId;
    // The client comes back only after 2.5 s: too late for a 1 s timeout.
    lcNode.options.retryDelay = 2500;
    const ready: boolean[] = [];
    manager.nodeManager.on('resumed', () => void ready.push(true));
    manager.nodeManager.on('connect', () => void ready.push(false));
    const droppedAt = performance.now();
    killSocket(lcNode);

    // Within the timeout the session waits, its player playing.
    await sleep(500);
    expect((await playersOf(node, sessionId)).map((p) => p.guildId)).toEqual([guildId]);
    // After it: the session is gone with its players, the bot left the voice channel.
    await until('the session destroyed', () => node.sessionCount === 0, 3000);
    const destroyedAfter = performance.now() - droppedAt;
    expect(destroyedAfter).toBeGreaterThanOrEqual(950);
    expect((await nodeGet(node, `/v4/sessions/${sessionId}/players`)).status).toBe(404);
    await until('voice left', () => h.voice.sessionHistory(botId).every((s) => s.endedAt !== null), 2000);
    const lastPacket = listener.arrivals[listener.arrivals.length - 1].at;
    await sleep(300);
    expect(listener.arrivals[listener.arrivals.length - 1].at).toBe(lastPacket);

    // The client reconnects with the stale Session-Id: a fresh session, not resumed.
    await until('the client back', () => ready.length > 0 && !!lcNode.sessionId && lcNode.sessionId !== sessionId, 6000);
    expect(ready).toEqual([false]);
    expect(node.sessionCount).toBe(1);
    expect(await playersOf(node, lcNode.sessionId!)).toEqual([]);
  } finally {
    lcNode.destroy('test over', true);
  }
}, 60_000);

test('Shoukaku 4.3: resume: true, the socket dies, Shoukaku resumes with Session-Id; playback never stops', async () => {
  const botId = '1310000000000000303';
  const guildId = '121000000000003030';
  const channelId = '111000000000003030';
  const node = await h.startNode();
  const url = h.tone(660, 40, 'r-sk.mp3');
  const listener = await h.listen(guildId, channelId, botId);
  // Shoukaku enables resuming itself on every ready (PATCH /sessions {resuming, timeout}) and
  // sends Session-Id when it reconnects.
  const { shoukaku, join } = headlessShoukaku(botId, [{ name: 'n', url: `127.0.0.1:${node.port}`, auth: PASSWORD }], { resume: true, resumeTimeout: 30, reconnectTries: 2, reconnectInterval: 1 });
  join(guildId, h.voiceUpdates(guildId, channelId, botId));
  const readies: { resumed: boolean; at: number }[] = [];
  shoukaku.on('ready', (_name, resumed) => void readies.push({ resumed, at: performance.now() }));
  await until('Shoukaku ready', () => readies.length > 0);
  const skNode = shoukaku.nodes.get('n')!;
  const sessionId = skNode.sessionId!;
  try {
    await until('resuming enabled', () => node.sessionCount === 1);
    const player = await shoukaku.joinVoiceChannel({ guildId, channelId, shardId: 0, deaf: false });
    const res = await skNode.rest.resolve(url);
    await player.playTrack({ track: { encoded: (res!.data as ShTrack).encoded } });
    await player.setGlobalVolume(70);
    await until('audio', () => listener.arrivals.length > 25, 8000);
    await sleep(500);
    await expectTone(listener, 660);
    const before = (await playersOf(node, sessionId))[0];

    const droppedAt = performance.now();
    skNode.ws!.terminate();
    await until('ready {resumed: true}', () => readies.length > 1, 8000);
    console.log(`Shoukaku: socket killed → resumed in ${Math.round(readies[1].at - droppedAt)} ms`);
    expect(readies[1].resumed).toBe(true);
    expect(skNode.sessionId).toBe(sessionId);

    await sleep(1000);
    const gap = listener.maxGap(droppedAt - 100, performance.now());
    console.log(`Shoukaku: longest gap between the bot's packets across the drop: ${Math.round(gap)} ms (in the 2 s before it: ${Math.round(listener.maxGap(droppedAt - 2000, droppedAt))} ms)`);
    expect(gap).toBeLessThanOrEqual(MAX_GAP_MS);
    await expectTone(listener, 660);
    const after = (await playersOf(node, sessionId))[0];
    expect(after.track?.info.uri).toBe(url);
    expect(after).toMatchObject({ guildId, paused: false, volume: 70, state: { connected: true } });
    expect(after.state.position).toBeGreaterThan(before.state.position + 1000);
    // The player object in Shoukaku goes on receiving updates for it.
    const positions: number[] = [];
    player.on('update', (u) => void positions.push(u.state.position));
    await until('a playerUpdate', () => positions.length > 0, 3000);
  } finally {
    // Shoukaku reconnects after any close, even its own disconnect(): close the node and let
    // it give up, so no timer outlives the test.
    await node.close();
    skNode.disconnect(1000, 'test over');
    await until('Shoukaku gave up', () => shoukaku.nodes.size === 0, 8000).catch(() => undefined);
  }
}, 60_000);

/** Sends raw bytes to the node and resolves with what came back before it closed (or after 1 s). */
function raw(node: LavalinkNode, text: string): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const s = connect(node.port, '127.0.0.1', () => s.write(text));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', () => undefined);
    const done = (): void => resolve(Buffer.concat(chunks).toString('latin1'));
    s.on('close', done);
    setTimeout(() => {
      s.destroy();
      done();
    }, 1000);
  });
}

test('the WebSocket endpoint survives malformed upgrades, foreign Session-Ids and garbage frames', async () => {
  const node = await h.startNode();
  const upgrade = (target: string, extra = ''): string =>
    `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: ${PASSWORD}\r\nUser-Id: 1310000000000000304\r\n${extra}\r\n`;
  // A request target that is no URL, a bad percent escape, a wrong path, a bad key.
  expect(await raw(node, upgrade('//a:b'))).toMatch(/^HTTP\/1.1 400/);
  expect(await raw(node, upgrade('/v4/websocket%E0%A4%A'))).toMatch(/^HTTP\/1.1 404/);
  expect(await raw(node, upgrade('/v4/websocket', 'Sec-WebSocket-Key: x\r\n').replace('Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n', ''))).toMatch(/^HTTP\/1.1 400/);
  // REST: the same kinds of targets answer 400, never 500.
  expect(await raw(node, `GET //a:b HTTP/1.1\r\nHost: x\r\nAuthorization: ${PASSWORD}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1.1 400/);
  expect(await raw(node, `GET /v4/sessions/%E0%A4%A/players HTTP/1.1\r\nHost: x\r\nAuthorization: ${PASSWORD}\r\nConnection: close\r\n\r\n`)).toMatch(/^HTTP\/1.1 400/);

  // A session of user A cannot be resumed by user B, nor one without resuming.
  const open = (userId: string, sessionId?: string) =>
    new Promise<{ ws: WebSocket; resumed: string | undefined; ready: { resumed: boolean; sessionId: string } }>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${node.port}/v4/websocket`, { headers: { Authorization: PASSWORD, 'User-Id': userId, ...(sessionId ? { 'Session-Id': sessionId } : {}) } });
      let resumed: string | undefined;
      ws.once('upgrade', (r) => (resumed = r.headers['session-resumed'] as string));
      ws.once('message', (m) => resolve({ ws, resumed, ready: JSON.parse(String(m)) }));
      ws.once('error', reject);
    });
  const a = await open('1310000000000000304');
  await fetch(`http://127.0.0.1:${node.port}/v4/sessions/${a.ready.sessionId}`, { method: 'PATCH', headers: { Authorization: PASSWORD, 'Content-Type': 'application/json' }, body: JSON.stringify({ resuming: true, timeout: 5 }) });
  const b = await open('1310000000000000305', a.ready.sessionId);
  expect(b.resumed).toBe('false');
  expect(b.ready.resumed).toBe(false);
  expect(b.ready.sessionId).not.toBe(a.ready.sessionId);
  // The same user with the session id while the old socket is still open takes it over.
  const a2 = await open('1310000000000000304', a.ready.sessionId);
  expect(a2.resumed).toBe('true');
  expect(a2.ready).toMatchObject({ op: 'ready', resumed: true, sessionId: a.ready.sessionId });
  await until('the old socket closed', () => a.ws.readyState === WebSocket.CLOSED, 2000);

  // Garbage from clients: text, binary, oversized messages; the node stays up.
  a2.ws.send('{"op":"voiceUpdate","guildId":"1"');
  a2.ws.send(Buffer.from([0, 1, 2, 255]));
  a2.ws.send('x'.repeat(70 * 1024)); // over the 64 KiB limit: ws closes that socket (1009)
  await until('oversized message closes the socket', () => a2.ws.readyState === WebSocket.CLOSED, 2000);
  b.ws.close();
  await until('b closed', () => b.ws.readyState === WebSocket.CLOSED, 2000);
  await sleep(50);
  const version = await fetch(`http://127.0.0.1:${node.port}/version`, { headers: { Authorization: PASSWORD } });
  expect(version.status).toBe(200);
  // The resumable session waits for its client again.
  expect(node.sessionCount).toBe(1);
}, 30_000);
