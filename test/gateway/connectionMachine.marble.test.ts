import { distinctUntilChanged, filter, map, NEVER, type Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { startConnectionMachine, type ConnectionDrivers } from '../../src/gateway/connectionMachine';
import { initialConnectionModel, reduceConnection, type ConnectionConfig, type ConnectionEvent } from '../../src/gateway/connectionReducer';
import type { GatewaySocketEvent } from '../../src/gateway/GatewaySocket';
import type { VoiceUdpSocket } from '../../src/gateway/VoiceUdpSocket';
import type { VoiceMessage } from '../../src/protocol';

const config: ConnectionConfig = {
  url: 'wss://voice.test/?v=8',
  endpoint: 'voice.test',
  serverId: 'g',
  userId: 'u',
  sessionId: 's',
  token: 't',
  channelId: 'c',
  modes: ['aead_aes256_gcm_rtpsize', 'aead_xchacha20_poly1305_rtpsize'],
  maxDaveProtocolVersion: 1,
  maxAttempts: 3,
  maxReconnectMs: 60_000,
  baseDelayMs: 10,
  maxDelayMs: 40,
  minHeartbeatMs: 1, // heartbeats every 10 frames of virtual time
};

const KEY = Array.from({ length: 32 }, (_, i) => i);
/** Socket event values used in marbles. */
const E: Record<string, GatewaySocketEvent> = {
  o: { type: 'open' },
  h: { type: 'message', message: { op: 8, d: { heartbeat_interval: 10 } } },
  r: { type: 'message', message: { op: 2, d: { ssrc: 7, ip: '10.0.0.1', port: 5000, modes: ['aead_aes256_gcm_rtpsize'] } }, seq: 1 } as GatewaySocketEvent,
  x: { type: 'message', message: { op: 2, d: { ssrc: 7, ip: '10.0.0.1', port: 5000, modes: ['xsalsa20_poly1305'] }, seq: 1 } },
  s: { type: 'message', message: { op: 4, d: { mode: 'aead_aes256_gcm_rtpsize', secret_key: KEY, dave_protocol_version: 0 }, seq: 2 } },
  a: { type: 'message', message: { op: 6, d: { t: 12 } } },
  m: { type: 'message', message: { op: 5, d: { user_id: 'x', ssrc: 9, speaking: 1 }, seq: 3 } },
  R: { type: 'message', message: { op: 9, d: null } },
  b: { type: 'binary', seq: 4, op: 25, payload: Buffer.alloc(0) },
  j: { type: 'bad-frame', error: new (require('../../src/errors').ProtocolError)('GATEWAY_BAD_PAYLOAD', 'junk') },
  c: { type: 'close', code: 1006, reason: '' },
  C: { type: 'close', code: 4015, reason: '' },
  i: { type: 'close', code: 4006, reason: '' },
  T: { type: 'close', code: 4009, reason: '' },
  k: { type: 'close', code: 4014, reason: '' },
  d: { type: 'close', code: 4017, reason: '' },
  f: { type: 'close', code: 4004, reason: '' },
};
/** Status letters for expectations. */
const S = {
  c: 'connecting',
  i: 'identifying',
  d: 'discovering',
  p: 'selecting-protocol',
  r: 'ready',
  u: 'resuming',
  w: 'reconnecting',
  x: 'disconnected',
  z: 'destroyed',
} as const;

interface Harness {
  sent: Array<{ socket: number; frame: number; msg: VoiceMessage }>;
  closed: Array<{ socket: number; code: number }>;
  urls: string[];
}

function setup(
  helpers: { cold: (m: string, v?: Record<string, unknown>) => Observable<unknown> },
  scheduler: TestScheduler,
  socketMarbles: string[],
  udpMarble = '-(l|)',
): { drivers: ConnectionDrivers; h: Harness } {
  const h: Harness = { sent: [], closed: [], urls: [] };
  let next = 0;
  const drivers: ConnectionDrivers = {
    openSocket: (url) => {
      const id = next++;
      h.urls.push(url);
      const events$ = (socketMarbles[id] ? helpers.cold(socketMarbles[id], E) : NEVER) as Observable<GatewaySocketEvent>;
      return {
        events$,
        send: (msg) => h.sent.push({ socket: id, frame: scheduler.now(), msg: msg as VoiceMessage }),
        close: (code) => h.closed.push({ socket: id, code }),
      };
    },
    openUdp: () =>
      ({
        messages$: NEVER,
        discover: () => helpers.cold(udpMarble, { l: { address: '1.2.3.4', port: 4321 } }),
        send: () => undefined,
        keepAlive: () => undefined,
        close: () => undefined,
      }) as unknown as VoiceUdpSocket,
    random: () => 1, // no jitter: retry after exactly delayMs
  };
  return { drivers, h };
}

/** Status changes; `connecting` (which lasts zero frames when the socket opens at once) is left out unless `all`. */
const statuses = (m$: Observable<{ state: { status: string } }>, all = false) =>
  m$.pipe(
    map((m) => m.state.status),
    filter((s) => all || s !== 'connecting'),
    distinctUntilChanged(),
  );

function newScheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
}

describe('connection machine (marble tests, no sockets)', () => {
  test('handshake: connecting -> identifying -> discovering -> selecting-protocol -> ready', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers, h } = setup(helpers, ts, ['o-h-r--s']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.expectObservable(statuses(m.model$), '^ 40ms !').toBe('i---dp-r', S);
      ts.flush();
      expect(h.sent.map((s) => s.msg.op).slice(0, 2)).toEqual([0, 1]);
      expect(h.sent[0].msg.d).toMatchObject({ server_id: 'g', user_id: 'u', session_id: 's', token: 't', max_dave_protocol_version: 1 });
      expect(h.sent[1].msg.d).toEqual({ protocol: 'udp', data: { address: '1.2.3.4', port: 4321, mode: 'aead_aes256_gcm_rtpsize' } });
    });
  });

  test('heartbeats every interval carry seq_ack; an ACK resets the missed count and sets ping', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers, h } = setup(helpers, ts, ['o-h-r--s-m 20ms a']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers
        .expectObservable(m.model$.pipe(map((x) => x.missedAcks), distinctUntilChanged()), '^ 35ms !')
        .toBe('0 11ms 1 9ms 2 7ms a-1', { 0: 0, 1: 1, 2: 2, a: 0 });
      ts.flush();
      const beats = h.sent.filter((s) => s.msg.op === 3);
      expect(beats.slice(0, 3).map((b) => b.frame)).toEqual([12, 22, 32]);
      expect(beats.slice(0, 3).map((b) => (b.msg.d as { t: number; seq_ack: number }))).toEqual([
        { t: 12, seq_ack: 3 },
        { t: 22, seq_ack: 3 },
        { t: 32, seq_ack: 3 },
      ]);
      expect(m.model.ping).toEqual({ rttMs: 18, at: 30 });
    });
  });

  test('3 missed ACKs -> reconnecting (resume) -> resuming -> RESUME with seq_ack -> RESUMED -> ready', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      // socket 0 never acks; socket 1 opens and answers RESUME.
      const { drivers, h } = setup(helpers, ts, ['o-h-r--s-b', 'o-R']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      // beats at 12, 22, 32; at 42 three are missed -> reconnecting; retry after 10 ms -> resuming; R at +2
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---dp-r 34ms w 9ms u-r', S);
      ts.flush();
      const resume = h.sent.find((s) => s.msg.op === 7)!;
      expect(resume.socket).toBe(1);
      expect(resume.msg.d).toEqual({ server_id: 'g', session_id: 's', token: 't', seq_ack: 4 });
      expect(h.closed[0]).toEqual({ socket: 0, code: 4000 });
      expect(h.sent.filter((s) => s.msg.op === 0)).toHaveLength(1);
    });
  });

  test('close 4015 and a network close resume; backoff doubles', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers } = setup(helpers, ts, ['o-h-r--s-C', 'o-c', 'o-R']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      // 4015 at 9 -> w; retry 10 ms -> u at 19; 1006 at 21 -> w (attempt 2, 20 ms) -> u at 41 -> r at 43
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---dp-r-w 9ms u-w 19ms u-r', S);
    });
  });

  test('4006 and 4009 re-identify with a fresh session', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers, h } = setup(helpers, ts, ['o-h-r--s-i', 'o-T', 'o-r--s']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---dp-r-w 9ms i-w 19ms i-dp-r', S);
      ts.flush();
      expect(h.sent.filter((s) => s.msg.op === 0).map((s) => s.socket)).toEqual([0, 1, 2]);
      expect(h.sent.filter((s) => s.msg.op === 7)).toHaveLength(0);
    });
  });

  test.each([
    ['f', 4004],
    ['k', 4014],
    ['d', 4017],
  ])('close %s (%i) gives up with a typed error, no retry', (letter, code) => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers, h } = setup(helpers, ts, [`o-h-${letter}`]);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---x', S);
      ts.flush();
      const s = m.model.state;
      expect(s.status === 'disconnected' && s.error.closeCode).toBe(code);
      expect(h.urls).toHaveLength(1);
    });
  });

  test('retries are bounded: attempts exhausted -> disconnected RECONNECT_FAILED', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers, h } = setup(helpers, ts, ['c', 'c', 'c', 'c']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      // 1006 at 0 -> w(10) -> c at 10 -> 1006 -> w(20) -> c at 30 -> w(40) -> c at 70 -> exhausted
      helpers.expectObservable(statuses(m.model$, true), '^ 250ms !').toBe('w 9ms (cw) 16ms (cw) 36ms (cx)', S);
      ts.flush();
      const s = m.model.state;
      expect(s.status === 'disconnected' && s.error.code).toBe('RECONNECT_FAILED');
      expect(h.urls).toHaveLength(4);
    });
  });

  test('READY without a supported mode -> disconnected NO_SUPPORTED_MODE', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers } = setup(helpers, ts, ['o-h-x']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---x', S);
      ts.flush();
      expect(m.model.state.status === 'disconnected' && m.model.state.error.code).toBe('NO_SUPPORTED_MODE');
    });
  });

  test('IP discovery failure -> reconnecting (identify) with a new UDP socket', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers } = setup(helpers, ts, ['o-h-r', 'o-h-r', 'o-h-r', 'o-h-r'], '--#');
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---d-w 9ms i---d-w 19ms i---d-w 39ms i---d-x', S);
      ts.flush();
      expect(m.model.state.status === 'disconnected' && m.model.state.error.code).toBe('RECONNECT_FAILED');
    });
  });

  test('a new server update moves to the new endpoint; destroy closes with 1000', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers, h } = setup(helpers, ts, ['o-h-r--s', 'o-h-r--s']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.cold('----------a 9ms b', {
        a: { type: 'server-update', url: 'wss://other/?v=8', endpoint: 'other', token: 't2', at: 10 },
        b: { type: 'destroy', at: 20 },
      } as Record<string, ConnectionEvent>).subscribe((e) => m.dispatch(e));
      helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---dp-r--i---dp-r--z', S);
      ts.flush();
      expect(h.urls).toEqual(['wss://voice.test/?v=8', 'wss://other/?v=8']);
      expect(h.sent.filter((s) => s.msg.op === 0).map((s) => (s.msg.d as { token: string }).token)).toEqual(['t', 't2']);
      expect(h.closed).toEqual([
        { socket: 0, code: 1000 },
        { socket: 1, code: 1000 },
      ]);
    });
  });

  describe('following a main gateway (gatewayGraceMs): 4014 waits for a move or the end', () => {
    const following = { ...config, gatewayGraceMs: 30 };

    test('moved: 4014 -> reconnecting; the channel and the new server arrive -> a fresh IDENTIFY there -> ready', () => {
      const ts = newScheduler();
      ts.run((helpers) => {
        const { drivers, h } = setup(helpers, ts, ['o-h-r--s-k', 'o-h-r--s']);
        const m = startConnectionMachine(initialConnectionModel(following), drivers, ts);
        ts.schedule(() => m.stop(), 55); // before unanswered heartbeats on socket 1 matter
        helpers.cold('15ms a 4ms b', {
          a: { type: 'session-update', sessionId: 's', channelId: 'c2', at: 15 },
          b: { type: 'server-update', url: 'wss://moved/?v=8', endpoint: 'moved', token: 't2', at: 20 },
        } as Record<string, ConnectionEvent>).subscribe((e) => m.dispatch(e));
        helpers.expectObservable(statuses(m.model$), '^ 50ms !').toBe('i---dp-r-w 10ms i---dp-r', S);
        ts.flush();
        expect(h.urls).toEqual(['wss://voice.test/?v=8', 'wss://moved/?v=8']);
        expect(h.sent.filter((x) => x.msg.op === 0).map((x) => [x.socket, (x.msg.d as { token: string }).token])).toEqual([
          [0, 't'],
          [1, 't2'],
        ]);
        expect(m.model.config.channelId).toBe('c2');
        expect(m.model.awaitingGateway).toBeNull();
      });
    });

    test('no word from the main gateway: disconnected (CLOSED 4014) after exactly the grace, no retry', () => {
      const ts = newScheduler();
      ts.run((helpers) => {
        const { drivers, h } = setup(helpers, ts, ['o-h-r--s-k']);
        const m = startConnectionMachine(initialConnectionModel(following), drivers, ts);
        ts.schedule(() => m.stop(), 300);
        helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---dp-r-w 29ms x', S);
        ts.flush();
        const s = m.model.state;
        expect(s.status === 'disconnected' && [s.error.code, s.error.closeCode]).toEqual(['CLOSED', 4014]);
        expect(s.status === 'disconnected' && s.error.message).toMatch(/neither moved nor ended/);
        expect(h.urls).toHaveLength(1);
      });
    });

    test('disconnected by a moderator: 4014, then destroy with its reason; nothing reconnects', () => {
      const ts = newScheduler();
      ts.run((helpers) => {
        const { drivers, h } = setup(helpers, ts, ['o-h-r--s-k']);
        const m = startConnectionMachine(initialConnectionModel(following), drivers, ts);
        ts.schedule(() => m.stop(), 300);
        helpers.cold('15ms d', { d: { type: 'destroy', reason: 'disconnected-by-server', at: 15 } } as Record<string, ConnectionEvent>).subscribe((e) => m.dispatch(e));
        helpers.expectObservable(statuses(m.model$), '^ 250ms !').toBe('i---dp-r-w 5ms z', S);
        ts.flush();
        expect(m.model.state).toEqual({ status: 'destroyed', reason: 'disconnected-by-server' });
        expect(h.urls).toHaveLength(1);
      });
    });
  });

  test('stale socket events, junk frames and unknown ops change nothing', () => {
    const ts = newScheduler();
    ts.run((helpers) => {
      const { drivers } = setup(helpers, ts, ['o-h-r--s-j-m']);
      const m = startConnectionMachine(initialConnectionModel(config), drivers, ts);
      ts.schedule(() => m.stop(), 300);
      helpers.expectObservable(statuses(m.model$), '^ 40ms !').toBe('i---dp-r', S);
      ts.flush();
      const model = m.model;
      expect(reduceConnection(model, { type: 'socket-close', socketId: 99, code: 4014, reason: '', at: 0 })).toBe(model);
      expect(reduceConnection(model, { type: 'socket-message', socketId: model.socketId, message: { op: 77, d: 1 }, at: 0 }).state).toBe(model.state);
    });
  });
});

describe('connection reducer (pure transitions)', () => {
  const ready = () => {
    let m = initialConnectionModel(config);
    const ev = (e: ConnectionEvent) => (m = reduceConnection(m, e));
    ev({ type: 'socket-open', socketId: 1, at: 0 });
    ev({ type: 'socket-message', socketId: 1, message: (E.r as { message: VoiceMessage }).message, at: 0 });
    ev({ type: 'udp-discovered', udpId: 1, local: { address: '1.1.1.1', port: 1 }, at: 0 });
    ev({ type: 'socket-message', socketId: 1, message: (E.s as { message: VoiceMessage }).message, at: 0 });
    return m;
  };

  test('reaches ready; the public state has no key', () => {
    const m = ready();
    expect(m.state.status).toBe('ready');
    expect(JSON.stringify(m.state)).not.toContain('secret');
    expect(Object.keys(m.state)).not.toContain('secretKey');
  });

  test('a new session id re-identifies; a channel change alone does not', () => {
    const m = ready();
    const moved = reduceConnection(m, { type: 'session-update', sessionId: 's', channelId: 'c2', at: 1 });
    expect(moved.state.status).toBe('ready');
    expect(moved.config.channelId).toBe('c2');
    const fresh = reduceConnection(m, { type: 'session-update', sessionId: 's2', channelId: 'c2', at: 1 });
    expect(fresh.state.status).toBe('connecting');
    expect(fresh.socketId).toBeGreaterThan(m.socketId);
    expect(fresh.secretKey).toBeNull();
  });

  test('a null endpoint waits without a socket; rejoin restarts from disconnected', () => {
    const m = ready();
    const waiting = reduceConnection(m, { type: 'server-update', url: '', endpoint: '', token: 't', at: 1 });
    expect(waiting.state.status).toBe('connecting');
    expect(waiting.socketId).toBe(0);
    const gone = reduceConnection(m, { type: 'socket-close', socketId: m.socketId, code: 4022, reason: '', at: 1 });
    expect(gone.state.status).toBe('disconnected');
    const again = reduceConnection(gone, { type: 'rejoin', at: 2 });
    expect(again.state.status).toBe('connecting');
    expect(again.socketId).not.toBe(0);
  });

  test('4021 rate limited gives up; retries also stop when they have lasted maxReconnectMs', () => {
    const m = ready();
    const limited = reduceConnection(m, { type: 'socket-close', socketId: m.socketId, code: 4021, reason: '', at: 1 });
    expect(limited.state.status === 'disconnected' && limited.state.error.closeCode).toBe(4021);
    const first = reduceConnection(m, { type: 'socket-close', socketId: m.socketId, code: 1006, reason: '', at: 1000 });
    expect(first.state.status).toBe('reconnecting');
    const retried = reduceConnection(first, { type: 'retry', at: 1010 });
    const late = reduceConnection(retried, { type: 'socket-close', socketId: retried.socketId, code: 1006, reason: '', at: 1000 + 60_001 });
    expect(late.state.status === 'disconnected' && late.state.error.code).toBe('RECONNECT_FAILED');
  });

  test('destroyed is final; its reason defaults to destroy-called', () => {
    const d = reduceConnection(ready(), { type: 'destroy', at: 0 });
    expect(d.state).toEqual({ status: 'destroyed', reason: 'destroy-called' });
    expect(reduceConnection(d, { type: 'rejoin', at: 1 })).toBe(d);
  });
});

describe("HELLO's heartbeat_interval is bounded", () => {
  const hello = (interval: number) =>
    reduceConnection(initialConnectionModel({ ...config, minHeartbeatMs: undefined }), {
      type: 'socket-message',
      socketId: 1,
      message: { op: 8, d: { heartbeat_interval: interval } },
      at: 0,
    }).heartbeatIntervalMs;
  test.each([
    [13_750, 13_750],
    [0.5, 100], // a broken server's tiny interval would make the client flood it
    [2 ** 31, 60_000], // Node's timers fire after 1 ms above 2^31 - 1
    [Number.MAX_VALUE, 60_000],
  ])('%p ms -> %p ms', (interval, expected) => {
    expect(hello(interval)).toBe(expected);
  });
  test.each([0, -5, Number.NaN])('%p is ignored', (interval) => {
    expect(hello(interval)).toBeNull();
  });
});
