import { filter, firstValueFrom, lastValueFrom, map, take, timeout, toArray } from 'rxjs';
import { connectVoice, jitterBuffer, opusDecode, voiceSink, VoiceConnectionError, type DaveState, type VoiceConnection } from '../../src';
import { dominantFrequency, startVoiceServer, type VoiceServer } from '../../src/testing';
import { opusTone } from '../helpers/opusTone';

const CHANNEL = '1100000000000000001';
const GUILD = '1200000000000000001';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('DAVE end to end: rxvoice clients through the emulator', () => {
  let server: VoiceServer;
  const conns = new Map<string, VoiceConnection>();
  let n = 0;

  beforeAll(async () => {
    server = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
  });
  afterAll(async () => {
    for (const c of conns.values()) c.destroy();
    await server.close();
  });

  async function join(): Promise<{ userId: string; conn: VoiceConnection }> {
    n++;
    const userId = `13000000000000000${String(n).padStart(2, '0')}`;
    const creds = { serverId: GUILD, channelId: CHANNEL, userId, sessionId: `dave-session-${n}`, token: `dave-token-${n}` };
    server.registerSession(creds);
    const conn = connectVoice({ endpoint: server.wsUrl, ...creds });
    conns.set(userId, conn);
    await conn.ready(5000);
    return { userId, conn };
  }

  /** Resolves when every connection is active in the same epoch (and returns their states). */
  async function allActive(expected: number, minEpoch = 0): Promise<DaveState[]> {
    for (let i = 0; i < 100; i++) {
      const states = await Promise.all([...conns.values()].map((c) => firstValueFrom(c.dave$)));
      const epochs = new Set(states.map((s) => s.epoch));
      if (
        states.length === expected &&
        states.every((s) => s.status === 'active' && (s.epoch ?? 0) >= minEpoch) &&
        epochs.size === 1
      ) {
        return states;
      }
      await sleep(50);
    }
    throw new Error(
      `DAVE did not settle: ${JSON.stringify(await Promise.all([...conns.values()].map((c) => firstValueFrom(c.dave$))))} server ${JSON.stringify(server.dave())}`,
    );
  }

  /** What `listener` hears from `speakerId` while `speaker` plays a tone. */
  async function hear(listener: VoiceConnection, speakerId: string, play: () => Promise<unknown>): Promise<Buffer> {
    const pcm = firstValueFrom(
      listener.speakers$.pipe(
        filter((s) => s.userId === speakerId),
        take(1),
        map((s) => s.packets$.pipe(jitterBuffer(), opusDecode(), take(40), toArray())),
      ),
    ).then((frames$) => lastValueFrom(frames$.pipe(timeout(5000))));
    await play();
    return Buffer.concat(await pcm);
  }

  test('two, then three clients: same privacy code, matching verification codes, A is heard at 440 Hz, the relay carries E2EE frames', async () => {
    const a = await join();
    const b = await join();
    let states = await allActive(2);
    expect(states[0].privacyCode).toMatch(/^\d{30}$/);
    expect(states[1].privacyCode).toBe(states[0].privacyCode);
    expect(await a.conn.verificationCode(b.userId)).toBe(await b.conn.verificationCode(a.userId));
    // A user outside the group is a bad argument, not a closed connection.
    await expect(a.conn.verificationCode('999999999999999999')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });

    const c = await join();
    states = await allActive(3);
    expect(new Set(states.map((s) => s.privacyCode)).size).toBe(1);
    expect(states[0].epoch).toBeGreaterThanOrEqual(2);
    expect(await a.conn.verificationCode(c.userId)).toBe(await c.conn.verificationCode(a.userId));

    const [atB, atC] = await Promise.all([
      hear(b.conn, a.userId, async () => undefined),
      hear(c.conn, a.userId, () => lastValueFrom(opusTone(440, 1200).pipe(voiceSink(a.conn)))),
    ]);
    expect(Math.abs(dominantFrequency(atB) - 440)).toBeLessThan(2);
    expect(Math.abs(dominantFrequency(atC) - 440)).toBeLessThan(2);
    const sent = server.receivedFrom(a.userId)!;
    expect(sent.e2eeFrames).toBeGreaterThanOrEqual(55); // 60 audio frames; silence frames stay plain
    expect(sent.decodeFailures).toBe(0);
    expect(b.conn.receiveStats().decryptFailures).toBe(0);
  }, 30000);

  test('a member leaves: the epoch advances and the rest keep talking', async () => {
    const before = (await allActive(3))[0].epoch!;
    const [leaverId, leaver] = [...conns.entries()][2];
    leaver.destroy();
    conns.delete(leaverId);
    const states = await allActive(2, before + 1);
    expect(states[0].epoch!).toBeGreaterThan(before);
    const [[aId, a], [, b]] = [...conns.entries()];
    const heard = await hear(b, aId, () => lastValueFrom(opusTone(660, 1000).pipe(voiceSink(a))));
    expect(Math.abs(dominantFrequency(heard) - 660)).toBeLessThan(2);
  }, 30000);

  test('a corrupted welcome: the client reports it (op 31), recovers, and hears again', async () => {
    const invalid: string[] = [];
    const sub = server.events$.subscribe((e) => {
      if (e.type === 'dave-invalid') invalid.push(e.userId);
    });
    const nextUser = `13000000000000000${String(n + 1).padStart(2, '0')}`;
    server.faults.corruptDaveWelcome(nextUser, 1);
    const d = await join();
    expect(d.userId).toBe(nextUser);
    await allActive(3);
    sub.unsubscribe();
    expect(invalid).toContain(d.userId);
    const [[aId, a]] = [...conns.entries()];
    const heard = await hear(d.conn, aId, () => lastValueFrom(opusTone(550, 1000).pipe(voiceSink(a))));
    expect(Math.abs(dominantFrequency(heard) - 550)).toBeLessThan(2);
  }, 30000);

  test('a client with dave: false against a DAVE-required server: 4017, a typed error, no retry loop', async () => {
    const creds = { serverId: GUILD, channelId: CHANNEL, userId: '1399999999999999999', sessionId: 'no-dave', token: 'no-dave' };
    server.registerSession(creds);
    const opens: number[] = [];
    const sub = server.events$.subscribe((e) => e.type === 'close' && e.code === 4017 && opens.push(1));
    const conn = connectVoice({ endpoint: server.wsUrl, ...creds, dave: false });
    const err = await conn.ready(5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VoiceConnectionError);
    expect(err).toMatchObject({ closeCode: 4017 });
    expect((err as Error).message).toMatch(/DAVE/);
    await sleep(500);
    expect(opens).toHaveLength(1);
    expect(conn.state.status).toBe('disconnected');
    sub.unsubscribe();
    conn.destroy();
  });
});

describe('DAVE cross-implementation: @discordjs/voice and rxvoice in one channel', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { startDjsClient, describeRun } = require('../conformance/djsChild') as typeof import('../conformance/djsChild');

  test('each hears the other', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-dave-x-'));
    const server = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
    const guild = '1210000000000000001';
    const channel = '1110000000000000001';
    const mine = { serverId: guild, channelId: channel, userId: '1310000000000000001', sessionId: 'rx', token: 'rx-token' };
    server.registerSession(mine);
    const conn = connectVoice({ endpoint: server.wsUrl, ...mine });
    try {
      await conn.ready(5000);
      // 1. @discordjs/voice plays 440 Hz; rxvoice hears it.
      const player = { serverId: guild, channelId: channel, userId: '1310000000000000002', sessionId: 'djs-play', token: 't2' };
      server.registerSession(player);
      const heard = firstValueFrom(
        conn.speakers$.pipe(
          filter((s) => s.userId === player.userId),
          take(1),
          map((s) => s.packets$.pipe(jitterBuffer(), opusDecode(), take(40), toArray())),
        ),
      ).then((f$) => lastValueFrom(f$.pipe(timeout(15000))));
      const djsPlay = startDjsClient(
        { endpoint: server.endpoint, guildId: guild, channelId: channel, userId: player.userId, sessionId: player.sessionId, token: player.token, action: 'play', frequency: 440, durationMs: 1000, waitForDaveMs: 8000, timeoutMs: 20000 },
        { blockSodium: false },
      );
      const pcm = Buffer.concat(await heard);
      const playRun = await djsPlay.exited;
      expect({ code: playRun.code, info: describeRun(playRun) }).toMatchObject({ code: 0 });
      expect(Math.abs(dominantFrequency(pcm) - 440)).toBeLessThan(2);
      expect(server.receivedFrom(player.userId)!.e2eeFrames).toBeGreaterThanOrEqual(45);

      // 2. rxvoice plays 660 Hz; @discordjs/voice hears it.
      const listener = { serverId: guild, channelId: channel, userId: '1310000000000000003', sessionId: 'djs-listen', token: 't3' };
      server.registerSession(listener);
      const outFile = path.join(dir, 'heard.pcm');
      const djsListen = startDjsClient(
        { endpoint: server.endpoint, guildId: guild, channelId: channel, userId: listener.userId, sessionId: listener.sessionId, token: listener.token, action: 'listen', listenUserId: mine.userId, listenMs: 8000, idleMs: 600, outFile, waitForDaveMs: 8000, timeoutMs: 20000 },
        { blockSodium: false },
      );
      await djsListen.waitFor('listening');
      for (let i = 0; i < 100 && (await firstValueFrom(conn.dave$)).status !== 'active'; i++) await sleep(50);
      await sleep(300);
      await lastValueFrom(opusTone(660, 1200).pipe(voiceSink(conn)));
      const listenRun = await djsListen.exited;
      expect({ code: listenRun.code, info: describeRun(listenRun) }).toMatchObject({ code: 0 });
      expect(server.receivedFrom(mine.userId)!.e2eeFrames).toBeGreaterThanOrEqual(55);
      const got = readFileSync(outFile);
      expect(got.length).toBeGreaterThan(40 * 3840);
      expect(Math.abs(dominantFrequency(got) - 660)).toBeLessThan(2);
    } finally {
      conn.destroy();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60000);
});

test('DAVE with ids that are not snowflakes does not crash the process: the connection stays up without E2EE', async () => {
  const server = await startVoiceServer({ dave: true });
  server.registerSession({ serverId: 'guild', channelId: 'not-a-snowflake', userId: 'alice', sessionId: 's', token: 't' });
  const conn = connectVoice({ endpoint: server.wsUrl, serverId: 'guild', channelId: 'not-a-snowflake', userId: 'alice', sessionId: 's', token: 't' });
  try {
    await conn.ready(5000);
    await sleep(200);
    expect(conn.state.status).toBe('ready');
    expect((await firstValueFrom(conn.dave$)).status).toBe('disabled');
  } finally {
    conn.destroy();
    await server.close();
  }
});
