/**
 * discord.js habits against the main-gateway and voice emulators (DAVE required, as on
 * Discord), with the example bot in this process: one connection per guild, `/move` and a
 * user dragging the bot while it plays, a moderator disconnecting it, getVoiceConnection.
 *
 * Channels: General and Music on voice server A, Lounge on voice server B. Alice (who types
 * the commands) is in General; Carol (Music) and Erin (Lounge) are rxvoice clients, members
 * of their channel's DAVE group, so the bot has to join each group to be heard.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { filter, firstValueFrom, lastValueFrom, take, timeout, toArray } from 'rxjs';
import { slashCommand, startBot, type Bot } from '../../examples/discordjsBot';
import { connectVoice, getVoiceConnection, voiceSink, type DaveState, type VoiceConnection } from '../../src';
import { findFfmpeg } from '../../src/sources/findFfmpeg';
import { startMainGateway, startVoiceServer, type MainGateway, type ReceivedStream, type VoiceServer } from '../../src/testing';
import { opusTone } from '../helpers/opusTone';
import { until } from '../helpers/until';

const TOKEN = 'moves-bot-token';
const BOT = '100000000000000077';
const GUILD = '310000000000000001';
const GENERAL = '310000000000000002';
const MUSIC = '310000000000000003';
const LOUNGE = '310000000000000004';
const TEXT = '310000000000000005';
const ALICE = '210000000000000001';
const CAROL = '210000000000000002';
const ERIN = '210000000000000003';
/** The clip: 3 s of 440 Hz = 150 frames of 20 ms. */
const CLIP_FRAMES = 150;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let a: VoiceServer;
let b: VoiceServer;
let gateway: MainGateway;
let bot: Bot;
const logs: string[] = [];
let carol: VoiceConnection;
let erin: VoiceConnection;

/** A DAVE member in a channel (not the bot): an rxvoice client registered at the voice server directly. */
async function member(server: VoiceServer, userId: string, channelId: string): Promise<VoiceConnection> {
  const creds = { serverId: GUILD, channelId, userId, sessionId: `session-${userId}`, token: `token-${userId}` };
  server.registerSession(creds);
  const conn = connectVoice({ endpoint: server.wsUrl, ...creds });
  await conn.ready(5000);
  return conn;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-djs-moves-'));
  const made = spawnSync(findFfmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-ac', '2', '-ar', '48000', path.join(dir, 'tone.wav')]);
  expect(made.status).toBe(0);
  a = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
  b = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000, tls: a.tls });
  gateway = await startMainGateway({
    token: TOKEN,
    botUserId: BOT,
    voiceServer: a,
    rest: true,
    guilds: [
      {
        id: GUILD,
        name: 'moves',
        channels: [
          { id: GENERAL, name: 'General' },
          { id: MUSIC, name: 'Music' },
          { id: LOUNGE, name: 'Lounge', voiceServer: b },
          { id: TEXT, name: 'bot-commands', type: 'text' },
        ],
        voiceStates: [
          { userId: ALICE, channelId: GENERAL },
          { userId: CAROL, channelId: MUSIC },
          { userId: ERIN, channelId: LOUNGE },
        ],
      },
    ],
  });
  carol = await member(a, CAROL, MUSIC);
  erin = await member(b, ERIN, LOUNGE);
  bot = await startBot({
    token: TOKEN,
    mediaDir: dir,
    recordingsDir: dir,
    client: { rest: { api: gateway.restUrl! } },
    voice: { tls: { ca: a.certificate } },
    log: (line) => logs.push(line),
  });
}, 30_000);

afterAll(async () => {
  await bot?.destroy();
  carol?.destroy();
  erin?.destroy();
  await gateway?.close();
  await a?.close();
  await b?.close();
  rmSync(dir, { recursive: true, force: true });
});

const command = (name: string, options?: Record<string, string>) =>
  slashCommand(gateway, { name, options, guildId: GUILD, channelId: TEXT, userId: ALICE, username: 'alice' });
const botStreams = (server: VoiceServer): ReceivedStream[] => server.received().filter((s) => s.userId === BOT);
const audioFrames = (s: ReceivedStream): number => s.frames - s.silenceFrames;
const played = (n: number) => until(() => logs.filter((l) => l.startsWith('[bot] played tone.wav')).length >= n, () => logs.join('\n'), 8000);
const activeDave = (conn: VoiceConnection): Promise<DaveState> =>
  firstValueFrom(conn.dave$.pipe(filter((d) => d.status === 'active'), timeout(5000)));

/**
 * A move while playing: the stream in the old channel ends, the one in the new channel
 * starts (same RTP sequence space: the voiceSink buffered through the move), DAVE is active
 * there, and every frame of the clip arrived but those sent into the closing session.
 */
async function expectMovedWhilePlaying(from: ReceivedStream, to: ReceivedStream, listener: VoiceConnection): Promise<{ gapMs: number; lost: number }> {
  const gapMs = to.firstArrival - from.lastArrival;
  const lost = (to.firstSequence - from.lastSequence - 1) & 0xffff; // sent into the old session after it ended
  expect(gapMs).toBeLessThan(1000);
  expect(audioFrames(from) + audioFrames(to) + lost).toBe(CLIP_FRAMES);
  expect(lost).toBeLessThanOrEqual(Math.ceil(gapMs / 20));
  expect(to.e2eeFrames).toBeGreaterThan(0); // the bot encrypted for the new channel's group
  expect(to.decodeFailures).toBe(0);
  const conn = getVoiceConnection(GUILD)!;
  const [mine, theirs] = await Promise.all([activeDave(conn), activeDave(listener)]);
  expect(mine.privacyCode).toBe(theirs.privacyCode); // one group: the new channel's
  expect(await conn.verificationCode(listener === carol ? CAROL : ERIN)).toMatch(/^\d{45}$/);
  return { gapMs, lost };
}

test('/play twice in a row reuses one connection (one op 4, one voice session) and queues; /skip goes on to the next', async () => {
  expect(await command('play', { file: 'tone.wav' })).toBe('Playing tone.wav in General.');
  const conn = getVoiceConnection(GUILD);
  expect(conn?.state.status).toBe('ready');
  await sleep(300);
  expect(await command('play', { file: 'tone.wav' })).toBe('Queued tone.wav (1 ahead).');
  expect(getVoiceConnection(GUILD)).toBe(conn);
  await sleep(300);
  expect(await command('skip')).toBe('Skipped tone.wav; playing tone.wav.');
  await sleep(300);
  expect(await command('stop')).toBe('Stopped.');
  expect(gateway.voiceStateRequests().map((r) => r.channel_id)).toEqual([GENERAL]);
  expect(a.sessionHistory(BOT)).toEqual([expect.objectContaining({ channelId: GENERAL, endedAt: null })]);
  expect(a.sessionHistory(BOT)[0].resumes).toBe(0);
  await played(2);
});

test('/move while playing: audio resumes in Music within 1 s, DAVE active there, every frame counted', async () => {
  a.resetReceived();
  const conn = getVoiceConnection(GUILD)!;
  expect(await command('play', { file: 'tone.wav' })).toBe('Playing tone.wav in General.');
  await sleep(1000);
  const heard = firstValueFrom(carol.speakers$.pipe(filter((s) => s.userId === BOT), take(1), timeout(5000)));
  expect(await command('move', { channel: MUSIC })).toBe('Moved to Music.');
  expect(getVoiceConnection(GUILD)).toBe(conn);
  expect(conn.channelId).toBe(MUSIC);
  const packets = lastValueFrom((await heard).packets$.pipe(take(40), toArray(), timeout(5000))); // Carol decrypts the bot
  await played(3);
  expect(logs.filter((l) => l.startsWith('[bot] played tone.wav')).at(-1)).toBe('[bot] played tone.wav: 3000 ms (finished)');
  expect(await packets).toHaveLength(40);
  const [general, music] = [GENERAL, MUSIC].map((ch) => botStreams(a).filter((s) => s.channelId === ch));
  expect([general.length, music.length]).toEqual([1, 1]);
  const { gapMs, lost } = await expectMovedWhilePlaying(general[0], music[0], carol);
  console.log(`/move: gap ${gapMs.toFixed(1)} ms, ${audioFrames(general[0])} + ${audioFrames(music[0])} frames delivered of ${CLIP_FRAMES} (${music[0].e2eeFrames} end-to-end encrypted in Music), ${lost} lost at the move`);
  expect(a.sessionHistory(BOT).map((s) => [s.channelId, s.endCode])).toEqual([
    [GENERAL, 4014],
    [MUSIC, null],
  ]);
}, 20_000);

test('a user drags the bot to Lounge (another voice server) while it plays: it follows, same counts; receive streams switch channels', async () => {
  gateway.setVoiceState(GUILD, ALICE, MUSIC); // Alice joins the bot in Music: /play plays there
  await sleep(100);
  a.resetReceived();
  b.resetReceived();
  const conn = getVoiceConnection(GUILD)!;
  const speakers: { userId: string; ended: Promise<unknown> }[] = [];
  const sub = conn.speakers$.subscribe((s) => speakers.push({ userId: s.userId, ended: lastValueFrom(s.packets$, { defaultValue: null }) }));
  const carolTalks = lastValueFrom(opusTone(660, 2500).pipe(voiceSink(carol))); // heard until the bot is dragged away
  expect(await command('play', { file: 'tone.wav' })).toBe('Playing tone.wav in Music.');
  await sleep(1000);
  expect(speakers.map((s) => s.userId)).toEqual([CAROL]);
  gateway.setVoiceState(GUILD, BOT, LOUNGE);
  await until(() => conn.channelId === LOUNGE, () => conn.channelId);
  await speakers[0].ended; // Carol's stream ended with the move, while she still talks in Music
  await played(4);
  await carolTalks;
  const music = botStreams(a).filter((s) => s.channelId === MUSIC);
  const lounge = botStreams(b).filter((s) => s.channelId === LOUNGE);
  expect([music.length, lounge.length]).toEqual([1, 1]);
  const { gapMs, lost } = await expectMovedWhilePlaying(music[0], lounge[0], erin);
  console.log(`drag: gap ${gapMs.toFixed(1)} ms, ${audioFrames(music[0])} + ${audioFrames(lounge[0])} frames delivered of ${CLIP_FRAMES} (${lounge[0].e2eeFrames} end-to-end encrypted in Lounge), ${lost} lost at the move`);
  expect(logs).toContain('[bot] now in Lounge (moves)');
  // Erin talks in Lounge: a new speaker.
  await lastValueFrom(opusTone(550, 600).pipe(voiceSink(erin)));
  await until(() => speakers.some((s) => s.userId === ERIN), () => JSON.stringify(speakers.map((s) => s.userId)));
  expect(speakers.map((s) => s.userId)).toEqual([CAROL, ERIN]);
  sub.unsubscribe();
}, 20_000);

test('a moderator disconnects the bot while it plays: destroyed (disconnected-by-server), playback errors once, no reconnect; a later /join starts fresh', async () => {
  const conn = getVoiceConnection(GUILD)!;
  expect(conn.channelId).toBe(LOUNGE);
  const sessionsBefore = a.sessionHistory(BOT).length + b.sessionHistory(BOT).length;
  const states: string[] = [];
  conn.state$.subscribe((s) => states.push(s.status === 'destroyed' ? `destroyed:${s.reason}` : s.status));
  // Playing where the bot is (Lounge; /play would move it to Alice's channel).
  const errors: unknown[] = [];
  opusTone(440, 2000)
    .pipe(voiceSink(conn))
    .subscribe({ error: (err: unknown) => errors.push(err) });
  await sleep(500);
  gateway.setVoiceState(GUILD, BOT, null);
  await until(() => conn.state.status === 'destroyed');
  expect(conn.state).toEqual({ status: 'destroyed', reason: 'disconnected-by-server' });
  expect(getVoiceConnection(GUILD)).toBeUndefined();
  await sleep(1000);
  expect(errors).toEqual([expect.objectContaining({ code: 'CONNECTION_CLOSED' })]);
  expect(states.filter((s) => s.startsWith('destroyed'))).toEqual(['destroyed:disconnected-by-server']);
  expect(states).not.toContain('connecting'); // no attempt to reconnect
  expect(a.sessionHistory(BOT).length + b.sessionHistory(BOT).length).toBe(sessionsBefore);
  expect(b.sessionHistory(BOT).at(-1)?.endCode).toBe(4014);
  expect(logs).toContain('[bot] voice connection in moves ended: destroyed (disconnected-by-server)');

  // Through the bot: /play starts a fresh connection; the moderator again: its playback fails once.
  const failedBefore = logs.filter((l) => l.startsWith('[bot] playback failed')).length;
  expect(await command('play', { file: 'tone.wav' })).toBe('Playing tone.wav in Music.');
  const second = getVoiceConnection(GUILD)!;
  expect(second).not.toBe(conn);
  await sleep(500);
  gateway.setVoiceState(GUILD, BOT, null);
  await until(() => second.state.status === 'destroyed');
  await sleep(500);
  expect(logs.filter((l) => l.startsWith('[bot] playback failed')).slice(failedBefore)).toEqual([expect.stringContaining('destroyed')]);
  expect(second.state).toEqual({ status: 'destroyed', reason: 'disconnected-by-server' });

  expect(await command('join')).toBe('Joined Music.');
  const fresh = getVoiceConnection(GUILD)!;
  expect(fresh).not.toBe(second);
  expect(fresh.state.status).toBe('ready');
  expect(a.sessionHistory(BOT).at(-1)).toMatchObject({ channelId: MUSIC, endedAt: null });
}, 20_000);

test('getVoiceConnection returns the live connection, and undefined after destroy() (/leave)', async () => {
  const conn = getVoiceConnection(GUILD);
  expect(conn).toBeDefined();
  expect(conn!.channelId).toBe(MUSIC);
  expect(await command('join')).toBe('Already in Music.');
  expect(await command('leave')).toBe('Left Music.');
  expect(getVoiceConnection(GUILD)).toBeUndefined();
  expect(conn!.state).toEqual({ status: 'destroyed', reason: 'destroy-called' });
  expect(await command('leave')).toBe('I am not in a voice channel.');
  expect(gateway.voiceStateRequests().at(-1)).toMatchObject({ channel_id: null });
});
