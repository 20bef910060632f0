import * as dgram from 'node:dgram';
import { OpusEncoder } from '@discordjs/opus';
import { encodeRtpHeader } from '../../src/protocol';
import { dominantFrequency, generateTone, startVoiceServer, type VoiceServer } from '../../src/testing';
import { RawGatewayClient } from '../helpers/rawGatewayClient';
import { rawHandshake, type RawSession } from '../helpers/handshake';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('voice server emulator: gateway', () => {
  let server: VoiceServer;
  beforeAll(async () => {
    server = await startVoiceServer({ heartbeatIntervalMs: 500 });
  });
  afterAll(() => server.close());

  const creds = (n: string) => ({ serverId: 'g', userId: `u-${n}`, sessionId: `s-${n}`, token: `t-${n}` });
  const identify = (c: ReturnType<typeof creds>, extra: Record<string, unknown> = {}) => ({
    server_id: c.serverId,
    user_id: c.userId,
    session_id: c.sessionId,
    token: c.token,
    ...extra,
  });

  test('HELLO, IDENTIFY -> READY with seq, heartbeat -> ACK', async () => {
    const c = creds('hello');
    server.registerSession(c);
    const gw = await RawGatewayClient.connect(server.wsUrl);
    const hello = await gw.waitFor(8);
    expect(hello.d).toEqual({ heartbeat_interval: 500 });
    gw.send(0, identify(c));
    const ready = await gw.waitFor(2);
    expect(ready.seq).toBe(1);
    const d = ready.d as { ssrc: number; ip: string; port: number; modes: string[] };
    expect(d.port).toBe(server.udpPort);
    expect(d.modes).toEqual(['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize']);
    gw.send(3, { t: 1234, seq_ack: 1 });
    expect((await gw.waitFor(6)).d).toEqual({ t: 1234 });
    expect(server.clients().find((x) => x.userId === c.userId)?.lastSeqAck).toBe(1);
    gw.close();
  });

  test('over TLS with the self-signed certificate', async () => {
    const c = creds('tls');
    server.registerSession(c);
    const gw = await RawGatewayClient.connect(`wss://${server.endpoint}/?v=8`, { ca: server.certificate });
    gw.send(0, identify(c));
    await gw.waitFor(2);
    gw.close();
  });

  const expectClose = async (code: number, steps: (gw: RawGatewayClient) => void | Promise<void>) => {
    const gw = await RawGatewayClient.connect(server.wsUrl);
    await steps(gw);
    expect(await gw.waitForClose()).toBe(code);
  };

  test('4003 for a payload before identify', () => expectClose(4003, (gw) => gw.send(5, { speaking: 1, delay: 0, ssrc: 1 })));
  test('4004 for a bad token', () =>
    expectClose(4004, (gw) => {
      const c = creds('badtoken');
      server.registerSession(c);
      gw.send(0, identify({ ...c, token: 'wrong' }));
    }));
  test('4004 for an unregistered session', () => expectClose(4004, (gw) => gw.send(0, identify(creds('nobody')))));
  test('4005 for a second identify', () =>
    expectClose(4005, async (gw) => {
      const c = creds('twice');
      server.registerSession(c);
      gw.send(0, identify(c));
      await gw.waitFor(2);
      gw.send(0, identify(c));
    }));
  test('4001 for an unknown opcode', () => expectClose(4001, (gw) => gw.send(99, {})));
  test('4002 for an undecodable payload', () => expectClose(4002, (gw) => gw.sendRaw('{not json')));
  test('4012 for an unknown protocol, 4016 for an unknown mode', async () => {
    for (const [code, data] of [
      [4012, { protocol: 'tcp', data: { address: '127.0.0.1', port: 5, mode: 'aead_aes256_gcm_rtpsize' } }],
      [4016, { protocol: 'udp', data: { address: '127.0.0.1', port: 5, mode: 'xsalsa20_poly1305' } }],
    ] as const) {
      await expectClose(code, async (gw) => {
        const c = creds(`proto-${code}`);
        server.registerSession(c);
        gw.send(0, identify(c));
        await gw.waitFor(2);
        gw.send(1, data);
      });
    }
  });
  test('4009 when heartbeats stop', () =>
    expectClose(4009, (gw) => {
      const c = creds('silent');
      server.registerSession(c);
      gw.send(0, identify(c));
    }));

  test('RESUME replays messages after seq_ack, then RESUMED; no new READY', async () => {
    const c = creds('resume');
    server.registerSession(c);
    const gw = await RawGatewayClient.connect(server.wsUrl);
    gw.send(0, identify(c));
    await gw.waitFor(2); // seq 1
    gw.send(1, { protocol: 'udp', data: { address: '127.0.0.1', port: 9, mode: 'aead_aes256_gcm_rtpsize' } });
    await gw.waitFor(4); // seq 2
    gw.ws.terminate();
    await gw.waitForClose();
    server.inject(c.userId, { op: 5, d: { user_id: 'other', ssrc: 77, speaking: 1 } }); // seq 3, while away
    const gw2 = await RawGatewayClient.connect(server.wsUrl);
    gw2.send(7, { server_id: c.serverId, session_id: c.sessionId, token: c.token, seq_ack: 1 });
    await gw2.waitFor(9);
    const ops = gw2.messages.filter((m) => m.op !== 8).map((m) => [m.op, m.seq]);
    expect(ops).toEqual([
      [4, 2],
      [5, 3],
      [9, undefined],
    ]);
    const info = server.clients().find((x) => x.sessionId === c.sessionId)!;
    expect(info.resumes).toBe(1);
    expect(info.identifies).toBe(1);
    gw2.close();
  });

  test('RESUME of an unknown session -> 4006', () =>
    expectClose(4006, (gw) => gw.send(7, { server_id: 'g', session_id: 'nope', token: 'x', seq_ack: 0 })));

  test('requireDave closes a client without DAVE with 4017', async () => {
    const strict = await startVoiceServer({ requireDave: true });
    try {
      const c = creds('nodave');
      strict.registerSession(c);
      const gw = await RawGatewayClient.connect(strict.wsUrl);
      gw.send(0, identify(c, { max_dave_protocol_version: 0 }));
      expect(await gw.waitForClose()).toBe(4017);
    } finally {
      await strict.close();
    }
  });

  test('faults.close closes with any code; CLIENTS_CONNECT and CLIENT_DISCONNECT between peers', async () => {
    const a = creds('peer-a');
    const b = creds('peer-b');
    server.registerSession(a);
    server.registerSession(b);
    const ga = await RawGatewayClient.connect(server.wsUrl);
    ga.send(0, identify(a));
    await ga.waitFor(2);
    const gb = await RawGatewayClient.connect(server.wsUrl);
    gb.send(0, identify(b));
    expect((await gb.waitFor(11)).d).toEqual({ user_ids: expect.arrayContaining([a.userId]) });
    expect((await ga.waitFor(11)).d).toEqual({ user_ids: [b.userId] });
    server.faults.close(b.userId, 4014, 'kicked');
    expect(await gb.waitForClose()).toBe(4014);
    expect((await ga.waitFor(13)).d).toEqual({ user_id: b.userId });
    ga.close();
  });

  test('channels of one guild are separate; endSession (a move or a kick): 4014, op 13 in its channel only, no RESUME, the token is forgotten', async () => {
    const inChannel = (n: string, channelId: string) => ({ ...creds(n), channelId });
    const [a, b, c] = [inChannel('ch-a', 'one'), inChannel('ch-b', 'one'), inChannel('ch-c', 'two')];
    const gws: RawGatewayClient[] = [];
    for (const x of [a, b, c]) {
      server.registerSession(x);
      const gw = await RawGatewayClient.connect(server.wsUrl);
      gw.send(0, identify(x));
      await gw.waitFor(2);
      gws.push(gw);
    }
    const [ga, gb, gc] = gws;
    expect((await ga.waitFor(11)).d).toEqual({ user_ids: [b.userId] });
    expect(server.clients().find((x) => x.userId === c.userId)?.channelId).toBe('two');
    expect(server.endSession(b.sessionId)).toBe(true);
    expect(await gb.waitForClose()).toBe(4014);
    expect((await ga.waitFor(13)).d).toEqual({ user_id: b.userId });
    await sleep(50);
    expect(gc.messages.filter((m) => m.op === 11 || m.op === 13)).toEqual([]); // channel two heard nothing of one
    await expectClose(4006, (gw) => gw.send(7, { server_id: b.serverId, session_id: b.sessionId, token: b.token, seq_ack: 1 }));
    await expectClose(4004, (gw) => gw.send(0, identify(b)));
    expect(server.sessionHistory(b.userId)).toEqual([
      expect.objectContaining({ channelId: 'one', sessionId: b.sessionId, endCode: 4014, endedAt: expect.any(Number) }),
    ]);
    expect(server.endSession(b.sessionId)).toBe(false);
    ga.close();
    gc.close();
  });
});

describe('voice server emulator: UDP media', () => {
  let server: VoiceServer;
  const sessions: RawSession[] = [];
  beforeAll(async () => {
    server = await startVoiceServer({ heartbeatIntervalMs: 5000 });
  });
  afterAll(async () => {
    for (const s of sessions) s.close();
    await server.close();
  });

  async function sendTone(s: RawSession, frequency: number, frames: number, opts: { shuffle?: boolean } = {}) {
    const enc = new OpusEncoder(48000, 2);
    const pcm = generateTone({ frequency, durationMs: frames * 20 });
    const packets: Buffer[] = [];
    for (let i = 0; i < frames; i++) {
      const header = encodeRtpHeader({ sequence: 65530 + i, timestamp: 4294967000 + 960 * i, ssrc: s.ssrc });
      packets.push(s.cipher.seal(header, enc.encode(pcm.subarray(i * 3840, (i + 1) * 3840)), i + 1));
    }
    if (opts.shuffle) [packets[10], packets[11]] = [packets[11], packets[10]];
    const start = performance.now();
    for (let i = 0; i < packets.length; i++) {
      const wait = start + i * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      s.udp.send(packets[i], server.udpPort, '127.0.0.1');
    }
    await sleep(100);
  }

  test.each(['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'])(
    'decrypts and decodes a tone in %s, across sequence and timestamp wrap',
    async (mode) => {
      const s = await rawHandshake(server, { mode });
      sessions.push(s);
      await sendTone(s, 440, 50);
      const r = server.receivedFrom(s.userId)!;
      expect(r.mode).toBe(mode);
      expect(r.frames).toBe(50);
      expect(r.decryptFailures).toBe(0);
      expect(r.decodeFailures).toBe(0);
      expect(r.lost).toBe(0);
      expect(r.timestampSteps).toBe(0);
      expect(r.durationMs).toBe(1000);
      expect(r.pcm.length).toBe(50 * 3840);
      expect(Math.abs(dominantFrequency(r.pcm) - 440)).toBeLessThan(2);
      expect(r.pacing.count).toBe(49);
      expect(r.pacing.p50).toBeLessThan(10);
    },
  );

  test('counts reordering, loss, duplicates, decrypt failures, garbage and unknown SSRCs', async () => {
    const s = await rawHandshake(server);
    sessions.push(s);
    const enc = new OpusEncoder(48000, 2);
    const frame = enc.encode(Buffer.alloc(3840));
    const pkt = (seq: number) => s.cipher.seal(encodeRtpHeader({ sequence: seq, timestamp: seq * 960, ssrc: s.ssrc }), frame, seq);
    const before = server.udpStats();
    for (const seq of [1, 2, 4, 3, 3, 6]) s.udp.send(pkt(seq), server.udpPort, '127.0.0.1');
    const tampered = pkt(7);
    tampered[tampered.length - 10] ^= 1;
    s.udp.send(tampered, server.udpPort, '127.0.0.1');
    s.udp.send(Buffer.from('garbage datagram that is not RTP'), server.udpPort, '127.0.0.1');
    s.udp.send(encodeRtpHeader({ sequence: 1, timestamp: 1, ssrc: 999999 }), server.udpPort, '127.0.0.1');
    s.udp.send(Buffer.alloc(8), server.udpPort, '127.0.0.1'); // keep-alive
    await sleep(150);
    const r = server.receivedFrom(s.userId)!;
    expect(r.frames).toBe(5);
    expect(r.duplicates).toBe(1);
    expect(r.reordered).toBe(1);
    expect(r.lost).toBe(1); // 5
    expect(r.decryptFailures).toBe(1);
    const after = server.udpStats();
    expect(after.badPackets - before.badPackets).toBe(2);
    expect(after.unknownSsrc - before.unknownSsrc).toBe(1);
    expect(after.keepAlives - before.keepAlives).toBe(1);
  });

  test('speakAs announces the user and streams encrypted RTP at 20 ms', async () => {
    const s = await rawHandshake(server, { serverId: 'speak-guild' });
    sessions.push(s);
    const got: { seq: number; payload: Buffer; at: number }[] = [];
    s.udp.on('message', (msg) => {
      const p = s.cipher.open(msg);
      got.push({ seq: p.header.sequence, payload: p.payload, at: performance.now() });
    });
    await server.speakAs({ userId: 'bot-2', ssrc: 4242, source: { tone: { frequency: 660, durationMs: 600 } }, serverId: 'speak-guild' });
    await sleep(50);
    expect((await s.gw.waitFor(11)).d).toEqual({ user_ids: ['bot-2'] });
    expect((await s.gw.waitFor(5)).d).toMatchObject({ user_id: 'bot-2', ssrc: 4242, speaking: 1 });
    expect(got.length).toBe(30 + 5);
    const dec = new OpusEncoder(48000, 2);
    const pcm = Buffer.concat(got.slice(0, 30).map((g) => dec.decode(g.payload)));
    expect(Math.abs(dominantFrequency(pcm) - 660)).toBeLessThan(2);
    expect(got.slice(30).every((g) => g.payload.equals(Buffer.from([0xf8, 0xff, 0xfe])))).toBe(true);
    const span = got[got.length - 1].at - got[0].at;
    expect(span).toBeGreaterThan(34 * 20 - 60);
    expect(span).toBeLessThan(34 * 20 + 200);
  });

  test('UDP faults drop a fraction of packets', async () => {
    const s = await rawHandshake(server);
    sessions.push(s);
    const before = server.udpStats().faults.dropped;
    server.faults.udp({ direction: 'in', drop: 0.3, seed: 7 });
    try {
      await sendTone(s, 440, 60);
    } finally {
      server.faults.udp(null);
    }
    const r = server.receivedFrom(s.userId)!;
    const dropped = server.udpStats().faults.dropped - before;
    expect(r.frames + dropped).toBe(60);
    expect(dropped).toBeGreaterThan(5);
    expect(dropped).toBeLessThan(35);
    expect(r.lost).toBeLessThanOrEqual(dropped);
  });

  test('a client that is not set up gets no IP discovery answer for unknown SSRCs', async () => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    let answered = false;
    udp.on('message', () => (answered = true));
    const req = Buffer.alloc(74);
    req.writeUInt16BE(1, 0);
    req.writeUInt16BE(70, 2);
    req.writeUInt32BE(123456, 4);
    udp.send(req, server.udpPort, '127.0.0.1');
    await sleep(100);
    udp.close();
    expect(answered).toBe(false);
  });
});
