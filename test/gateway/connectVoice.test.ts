import { asyncScheduler, filter, firstValueFrom, take, toArray } from 'rxjs';
import { connectVoice, VoiceConnectionError, type VoiceConnection, type VoiceLogEntry } from '../../src';
import { openVoiceUdpSocket } from '../../src/gateway/VoiceUdpSocket';
import { startVoiceServer, type VoiceServer, type VoiceServerEvent } from '../../src/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;

function creds(server: VoiceServer, serverId = 'guild') {
  n++;
  const c = { serverId, userId: `user-${n}`, sessionId: `session-${n}`, token: `token-${n}` };
  server.registerSession(c);
  return c;
}

function connect(server: VoiceServer, c: ReturnType<typeof creds>, extra: Partial<Parameters<typeof connectVoice>[0]> = {}) {
  return connectVoice({
    endpoint: server.wsUrl,
    serverId: c.serverId,
    userId: c.userId,
    sessionId: c.sessionId,
    token: c.token,
    channelId: 'channel',
    dave: false,
    reconnect: { baseDelayMs: 50, maxDelayMs: 200 },
    ...extra,
  });
}

function recordEvents(server: VoiceServer): VoiceServerEvent[] {
  const events: VoiceServerEvent[] = [];
  server.events$.subscribe((e) => events.push(e));
  return events;
}

describe('bad endpoints', () => {
  const base = { serverId: 'g', userId: 'u', sessionId: 's', token: 't', channelId: 'c', dave: false };
  test.each(['', '   ', 'not a url', 'ws://', 'ws://[::1', '127.0.0.1:99999', 'http://127.0.0.1:1', 'https://discord.media'])(
    'connectVoice({ endpoint: %p }) throws BAD_OPTIONS at call time, on a driver thread or not',
    (endpoint) => {
      for (const extra of [{}, { scheduler: asyncScheduler }]) { // a driver thread (default), and in process
        const err = (() => {
          try {
            connectVoice({ ...base, ...extra, endpoint });
          } catch (e) {
            return e;
          }
          return null;
        })();
        expect(err).toBeInstanceOf(VoiceConnectionError);
        expect(err).toMatchObject({ code: 'BAD_OPTIONS', message: expect.stringContaining('endpoint') });
      }
    },
  );

  test('a VOICE_SERVER_UPDATE endpoint ws cannot open: a failed connect (1006), retried, never a crash', async () => {
    const { openGatewaySocket } = await import('../../src/gateway/GatewaySocket');
    const s = openGatewaySocket('wss://[::1/?v=8');
    const events = await firstValueFrom(s.events$.pipe(toArray()));
    expect(events).toEqual([{ type: 'close', code: 1006, reason: expect.stringContaining('invalid voice gateway URL') }]);
  });
});

describe('connectVoice against the emulator', () => {
  let server: VoiceServer;
  let events: VoiceServerEvent[];
  const conns: VoiceConnection[] = [];
  beforeAll(async () => {
    server = await startVoiceServer({ heartbeatIntervalMs: 250 });
    events = recordEvents(server);
  });
  afterEach(() => {
    conns.splice(0).forEach((c) => c.destroy());
  });
  afterAll(() => server.close());

  const open = (c: ReturnType<typeof creds>, extra: Partial<Parameters<typeof connectVoice>[0]> = {}) => {
    const conn = connect(server, c, extra);
    conns.push(conn);
    return conn;
  };

  test.each(['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'] as const)('full handshake in %s', async (mode) => {
    const c = creds(server);
    const conn = open(c, { modes: [mode] });
    const statuses: string[] = [];
    conn.state$.subscribe((s) => statuses.push(s.status));
    const ready = await conn.ready(5000);
    expect(ready.mode).toBe(mode);
    expect(statuses).toEqual(['connecting', 'identifying', 'discovering', 'selecting-protocol', 'ready']);
    const info = server.clients().find((x) => x.userId === c.userId)!;
    expect(info.ssrc).toBe(ready.ssrc);
    expect(info.mode).toBe(mode);
    expect(info.udp).toEqual(ready.local);
    expect(conn.transport?.cipher.mode).toBe(mode);
    // heartbeats carry seq_ack (READY = 1, SESSION_DESCRIPTION = 2)
    const ping = await firstValueFrom(conn.ping$);
    expect(ping).toBeGreaterThanOrEqual(0);
    // At least SESSION_DESCRIPTION's; more when the server sent other numbered messages before that heartbeat.
    expect(server.clients().find((x) => x.userId === c.userId)!.lastSeqAck).toBeGreaterThanOrEqual(2);
  });

  test('endpoint without scheme -> wss:// with TLS; the key never appears in state or logs', async () => {
    const c = creds(server);
    const logs: VoiceLogEntry[] = [];
    const conn = open(c, { endpoint: server.endpoint, tls: { ca: server.certificate }, logger: (e) => logs.push(e) });
    const ready = await conn.ready(5000);
    expect(ready.status).toBe('ready');
    const text = JSON.stringify(conn.state) + JSON.stringify(logs) + JSON.stringify(conn.transport);
    expect(text).not.toContain(c.token);
    expect(text).not.toMatch(/secret/i);
  });

  test('an untrusted certificate (no `tls.ca` for the self-signed one): disconnected at once with 1015, no retries', async () => {
    const c = creds(server);
    const conn = open(c, { endpoint: server.endpoint });
    const statuses: string[] = [];
    conn.state$.subscribe((s) => statuses.push(s.status));
    const end = await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'disconnected')));
    expect(end).toMatchObject({ status: 'disconnected', error: { closeCode: 1015 } });
    expect(end.status === 'disconnected' && end.error.message).toMatch(/TLS_HANDSHAKE_FAILED.*certificate/);
    expect(statuses).not.toContain('reconnecting');
  });

  test('resume after a forced 4015, without a new IDENTIFY', async () => {
    const c = creds(server);
    const conn = open(c);
    await conn.ready(5000);
    const before = events.filter((e) => e.type === 'identify' && e.userId === c.userId).length;
    server.faults.close(c.userId, 4015, 'crash');
    await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'resuming')));
    await conn.ready(5000);
    const info = server.clients().find((x) => x.userId === c.userId)!;
    expect(info.resumes).toBe(1);
    expect(events.filter((e) => e.type === 'identify' && e.userId === c.userId).length).toBe(before);
    expect(conn.transport).not.toBeNull();
  });

  test('4006 -> a new IDENTIFY', async () => {
    const c = creds(server);
    const conn = open(c);
    await conn.ready(5000);
    server.faults.close(c.userId, 4006, 'invalid');
    await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'reconnecting')));
    expect(conn.state).toMatchObject({ status: 'reconnecting', next: 'identify' });
    await conn.ready(5000);
    expect(events.filter((e) => e.type === 'identify' && e.userId === c.userId).length).toBe(2);
  });

  test('the emulator stops ACKing -> the client resumes', async () => {
    const c = creds(server);
    const conn = open(c);
    await conn.ready(5000);
    server.faults.ignoreHeartbeats(true);
    try {
      await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'reconnecting')));
      expect(conn.state).toMatchObject({ status: 'reconnecting', next: 'resume' });
    } finally {
      server.faults.ignoreHeartbeats(false);
    }
    await conn.ready(5000);
    expect(server.clients().find((x) => x.userId === c.userId)!.resumes).toBeGreaterThanOrEqual(1);
  });

  test('bad token -> typed error, no retry', async () => {
    const c = creds(server);
    const conn = open(c, { token: 'wrong' });
    const err = await conn.ready(5000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VoiceConnectionError);
    expect(err).toMatchObject({ code: 'CLOSED', closeCode: 4004 });
    await sleep(300);
    expect(events.filter((e) => e.type === 'socket-open').length).toBeGreaterThan(0);
    expect(conn.state.status).toBe('disconnected');
    expect(events.filter((e) => e.type === 'close' && e.code === 4004).length).toBe(1);
  });

  test('malformed JSON, unknown opcodes and binary junk from the server do not crash', async () => {
    const c = creds(server);
    const logs: VoiceLogEntry[] = [];
    const conn = open(c, { logger: (e) => logs.push(e) });
    await conn.ready(5000);
    server.inject(c.userId, '{this is not json');
    server.inject(c.userId, JSON.stringify({ op: 99, d: { what: 1 } }));
    server.inject(c.userId, JSON.stringify([1, 2, 3]));
    server.inject(c.userId, Buffer.from([1]));
    server.inject(c.userId, JSON.stringify({ op: 2, d: null }));
    const pings = await firstValueFrom(conn.ping$.pipe(take(2), toArray()));
    expect(pings.length).toBe(2);
    expect(conn.state.status).toBe('ready');
    expect(logs.filter((l) => l.level === 'warn' && l.message.startsWith('ignored')).length).toBeGreaterThanOrEqual(3);
  });

  test('speaking$ and clients$ follow ops 5, 11 and 13', async () => {
    const c = creds(server, 'guild-speak');
    const conn = open(c);
    await conn.ready(5000);
    const speaking = firstValueFrom(conn.speaking$);
    await server.speakAs({ userId: 'alice', ssrc: 999, source: { tone: { frequency: 440, durationMs: 100 } }, leaveAfter: true, serverId: 'guild-speak' });
    expect(await speaking).toEqual({ userId: 'alice', ssrc: 999, speaking: 1, receivedAt: expect.any(Number) });
    await sleep(50);
    const clients = await firstValueFrom(conn.clients$);
    expect(clients.has('alice')).toBe(false); // left after speaking (op 13)
  });

  test('setSpeaking sends op 5 with our SSRC', async () => {
    const c = creds(server);
    const conn = open(c);
    await conn.ready(5000);
    conn.setSpeaking(true);
    await sleep(100);
    expect(server.clients().find((x) => x.userId === c.userId)!.speaking).toBe(1);
  });

  test('20 connections to one emulator in one process all reach ready', async () => {
    const all = Array.from({ length: 20 }, () => open(creds(server, 'guild-20')));
    const states = await Promise.all(all.map((c) => c.ready(15000)));
    expect(new Set(states.map((s) => s.ssrc)).size).toBe(20);
  });
});

describe('connectVoice: give-up, DAVE and server moves', () => {
  test('a requireDave emulator -> 4017 typed error that points at the dave option, no retry', async () => {
    const server = await startVoiceServer({ requireDave: true });
    const events = recordEvents(server);
    try {
      const c = creds(server);
      const conn = connect(server, c, { dave: false });
      const err = (await conn.ready(5000).catch((e: unknown) => e)) as VoiceConnectionError;
      expect(err).toBeInstanceOf(VoiceConnectionError);
      expect(err.closeCode).toBe(4017);
      expect(err.message).toMatch(/DAVE/);
      expect(err.message).toMatch(/dave: false/);
      await sleep(300);
      expect(events.filter((e) => e.type === 'socket-open').length).toBe(1);
      conn.destroy();
    } finally {
      await server.close();
    }
  });

  test('a new VOICE_SERVER_UPDATE pointing at a second emulator -> the connection moves', async () => {
    const a = await startVoiceServer();
    const b = await startVoiceServer();
    try {
      const c = { serverId: 'g', userId: 'mover', sessionId: 'sess-move', token: 'tok-a' };
      a.registerSession(c);
      b.registerSession({ ...c, token: 'tok-b' });
      const conn = connect(a, c);
      await conn.ready(5000);
      expect(a.clients()[0].connected).toBe(true);
      conn.updateServer({ endpoint: b.wsUrl, token: 'tok-b' });
      await firstValueFrom(conn.state$.pipe(filter((s) => s.status === 'connecting')));
      const ready = await conn.ready(5000);
      expect(ready.endpoint).toBe(b.wsUrl);
      expect(b.clients()[0]?.userId).toBe('mover');
      await sleep(100);
      expect(a.clients().filter((x) => x.connected)).toHaveLength(0);
      conn.destroy();
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('transient failures retry with backoff and end in a typed error, bounded', async () => {
    const server = await startVoiceServer();
    const url = server.wsUrl;
    await server.close(); // nothing listens there any more
    const conn = connectVoice({
      endpoint: url,
      serverId: 'g',
      userId: 'u',
      sessionId: 's',
      token: 't',
      channelId: 'c',
      reconnect: { maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 50 },
    });
    const statuses: string[] = [];
    conn.state$.subscribe((s) => statuses.push(s.status));
    const err = (await conn.ready(5000).catch((e: unknown) => e)) as VoiceConnectionError;
    expect(err).toBeInstanceOf(VoiceConnectionError);
    expect(err.code).toBe('RECONNECT_FAILED');
    expect(statuses.filter((s) => s === 'reconnecting')).toHaveLength(3);
    conn.destroy();
  });

  test('IP discovery without an answer -> typed error after its retries', async () => {
    const udp = openVoiceUdpSocket();
    const err = await firstValueFrom(udp.discover(1, { address: '127.0.0.1', port: 9 }, { retryMs: 30, attempts: 3 })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VoiceConnectionError);
    expect(err).toMatchObject({ code: 'IP_DISCOVERY_FAILED' });
    const pending = firstValueFrom(udp.discover(1, { address: '127.0.0.1', port: 9 }, { retryMs: 1000, attempts: 3 })).catch(
      (e: unknown) => e,
    );
    udp.close();
    expect(await pending).toMatchObject({ code: 'IP_DISCOVERY_FAILED' });
  });
});
