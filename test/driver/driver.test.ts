import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { filter, firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { configureVoiceDriver, connectVoice, voiceDriverThreads, voiceSink, type PlaybackProgress, type VoiceConnection } from '../../src';
import { driverThreads } from '../../src/driver/internal/DriverPool';
import { DriverConnection } from '../../src/driver/internal/DriverConnection';
import { startVoiceServer, type VoiceServer } from '../../src/testing';
import { startEmulatorChild, type EmulatorChild } from '../helpers/emulatorChild';
import { opusTone } from '../helpers/opusTone';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const block = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // a busy bot: the main thread does nothing else
  }
};

let n = 0;
const creds = () => {
  n++;
  // Snowflake-like user ids: DAVE (MLS credentials) needs them.
  return { serverId: 'g', userId: `14000000000000000${String(n).padStart(2, '0')}`, sessionId: `s-drv-${n}`, token: `t-drv-${n}` };
};

afterEach(() => configureVoiceDriver({ threads: 2 }));

describe('a main-thread stall (emulator in another process)', () => {
  let emu: EmulatorChild;
  beforeAll(async () => {
    emu = await startEmulatorChild();
  }, 30_000);
  afterAll(() => emu.close());

  /** Plays 3 s; 1 s in, blocks the main thread for 500 ms; returns what the emulator saw. */
  async function playWithStall(): Promise<{ progress: PlaybackProgress; received: NonNullable<Awaited<ReturnType<EmulatorChild['received']>>> }> {
    const c = creds();
    await emu.register(c);
    const conn = connectVoice({ endpoint: emu.wsUrl, ...c, channelId: 'c', dave: false });
    await conn.ready(10_000);
    const done = lastValueFrom(opusTone(440, 3000).pipe(voiceSink(conn)));
    await sleep(1000);
    block(500);
    const progress = await done;
    await sleep(100);
    conn.destroy();
    const received = await emu.received(c.userId);
    if (!received) throw new Error('the emulator received nothing');
    return { progress, received };
  }

  test('on the driver (default): no gap, no burst, nothing late; in-process (threads: 0) the same stall is a 500 ms gap', async () => {
    configureVoiceDriver({ threads: 2 });
    const driven = await playWithStall();
    // 150 voiced frames + 5 silence frames, every one on time despite the stall.
    expect(driven.received.frames - driven.received.silenceFrames).toBe(150);
    expect(driven.received.lost).toBe(0);
    expect(driven.progress.framesLate).toBeLessThanOrEqual(2); // the driver's own thread may be preempted on a loaded 2-core machine, never 25 ticks
    expect(driven.received.pacing.max).toBeLessThan(100); // margin for a loaded CI machine; the stall itself would be ≥ 480
    expect(driven.received.timestampSteps).toBe(0);

    configureVoiceDriver({ threads: 0 });
    const inProcess = await playWithStall();
    expect(inProcess.received.pacing.max).toBeGreaterThan(400); // what the driver avoids
    expect(inProcess.progress.framesLate).toBeGreaterThanOrEqual(20);
  }, 60_000);
});

describe('the driver', () => {
  let server: VoiceServer;
  beforeAll(async () => {
    server = await startVoiceServer();
  });
  afterAll(() => server.close());

  const join = async (): Promise<{ conn: VoiceConnection; userId: string }> => {
    const c = creds();
    server.registerSession({ ...c, channelId: 'c' });
    const conn = connectVoice({ endpoint: server.wsUrl, ...c, channelId: 'c', dave: false });
    await conn.ready(10_000);
    return { conn, userId: c.userId };
  };

  test('threads: 0 runs the connection on the calling thread; the default spreads connections over the threads', async () => {
    configureVoiceDriver({ threads: 0 });
    expect(voiceDriverThreads()).toBe(0);
    const local = await join();
    expect(local.conn).not.toBeInstanceOf(DriverConnection);
    await lastValueFrom(opusTone(440, 500).pipe(voiceSink(local.conn)));
    await sleep(100);
    expect(server.receivedFrom(local.userId)!.frames).toBe(25 + 5);
    local.conn.destroy();

    configureVoiceDriver({ threads: 2 });
    const a = await join();
    const b = await join();
    expect(a.conn).toBeInstanceOf(DriverConnection);
    expect((a.conn as DriverConnection).thread).not.toBe((b.conn as DriverConnection).thread);
    a.conn.destroy();
    b.conn.destroy();
  });

  test('a killed driver thread: its connection is disconnected with DRIVER_CRASHED, playback errors, rejoin() starts it on a new thread', async () => {
    const { conn, userId } = await join();
    const dc = conn as DriverConnection;
    const playing = lastValueFrom(opusTone(440, 3000).pipe(voiceSink(conn))).then(
      () => null,
      (err: unknown) => err,
    );
    await sleep(500);
    const thread = dc.thread;
    const disconnected = firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'disconnected')));
    await thread.terminate();
    const state = await disconnected;
    expect(state.status === 'disconnected' && state.error.code).toBe('DRIVER_CRASHED');
    expect(await playing).toMatchObject({ code: 'CONNECTION_CLOSED' });
    expect(driverThreads()).not.toContain(thread);
    conn.rejoin();
    await conn.ready(10_000);
    expect(dc.thread).not.toBe(thread);
    await lastValueFrom(opusTone(440, 400).pipe(voiceSink(conn)));
    await sleep(100);
    expect(server.receivedFrom(userId)!.frames).toBeGreaterThanOrEqual(20);
    conn.destroy();
  }, 30_000);

  test('DAVE: a member that joins mid-stream hears the sender within 1 s of its DAVE session becoming active', async () => {
    const daveServer = await startVoiceServer({ dave: true, requireDave: true });
    const joinDave = async () => {
      const c = { ...creds(), serverId: '1200000000000000009' }; // DAVE needs snowflake ids (the MLS group is the channel's)
      daveServer.registerSession({ ...c, channelId: '1100000000000000009' });
      const conn = connectVoice({ endpoint: daveServer.wsUrl, ...c, channelId: '1100000000000000009' });
      await conn.ready(10_000);
      return { conn, userId: c.userId };
    };
    const a = await joinDave();
    const playing = lastValueFrom(opusTone(440, 4000).pipe(voiceSink(a.conn)));
    await sleep(1000);
    const b = await joinDave();
    const active = firstValueFrom(b.conn.dave$.pipe(filter((s) => s.status === 'active'))).then(() => performance.now());
    const first = firstValueFrom(b.conn.speakers$.pipe(filter((s) => s.userId === a.userId))).then((s) =>
      firstValueFrom(s.packets$.pipe(take(5), toArray())),
    );
    const [activeAt, packets] = await Promise.all([active, first]);
    // Heard: packets DAVE-decrypted to Opus (not the E2EE frame) within 1 s of B's session being ready.
    expect(packets[0].receivedAt - activeAt).toBeLessThan(1000);
    expect(packets.every((p) => p.payload[p.payload.length - 2] !== 0xfa || p.payload[p.payload.length - 1] !== 0xfa)).toBe(true);
    await playing;
    // From the group's first epoch on (about 1.3 s into the 4 s), every voiced frame is end-to-end encrypted.
    expect(daveServer.receivedFrom(a.userId)!.e2eeFrames).toBeGreaterThan(100);
    a.conn.destroy();
    b.conn.destroy();
    await daveServer.close();
  }, 30_000);
});

test('the process exits by itself after its connection is destroyed (idle driver threads do not hold it open)', async () => {
  const started = Date.now();
  const out = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, '..', 'helpers', 'exitChild.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
  });
  expect(out.code).toBe(0);
  expect(out.stdout).toMatch(/done \d+ frames 55\b/);
  expect(Date.now() - started).toBeLessThan(30_000);
}, 40_000);
