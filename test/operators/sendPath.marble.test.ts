import { BehaviorSubject, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { frameSource } from '../../src/sources/frameSource';
import type { VoiceConnection, VoiceConnectionState, VoiceTransport } from '../../src/gateway';
import { encrypt } from '../../src/operators/encrypt';
import { pace } from '../../src/operators/pace';
import { packetize } from '../../src/operators/packetize';
import { silencePadding } from '../../src/operators/silencePadding';
import { createTransportCipher, parseRtpHeader } from '../../src/protocol';
import { createPlaybackControl } from '../../src/sinks/createPlaybackControl';
import { voiceSink } from '../../src/sinks/voiceSink';
import { Observable } from 'rxjs';

const newScheduler = () => new TestScheduler((a, e) => expect(a).toEqual(e));
const KEY = new Uint8Array(32).fill(7);
const SILENCE = Buffer.from([0xf8, 0xff, 0xfe]);

/** A connection stand-in: real cipher, UDP sends recorded with the scheduler's time. */
function fakeConnection(ts: TestScheduler) {
  const cipher = createTransportCipher('aead_aes256_gcm_rtpsize', KEY);
  const sent: Array<{ at: number; packet: Buffer }> = [];
  const speaking: Array<{ at: number; flags: number }> = [];
  const state$ = new BehaviorSubject<VoiceConnectionState>({
    status: 'ready',
    endpoint: 'e',
    ssrc: 42,
    server: { address: 'a', port: 1 },
    local: { address: 'b', port: 2 },
    mode: 'aead_aes256_gcm_rtpsize',
    daveProtocolVersion: 0,
  });
  let ready = true;
  const transport = {
    ssrc: 42,
    mode: 'aead_aes256_gcm_rtpsize',
    cipher,
    e2ee: (frame: Buffer) => frame,
    udp: { send: (packet: Uint8Array) => sent.push({ at: ts.now(), packet: Buffer.from(packet) }) },
  } as unknown as VoiceTransport;
  const conn = {
    get transport() {
      return ready ? transport : null;
    },
    state$,
    setSpeaking: (flags: number | boolean) => speaking.push({ at: ts.now(), flags: Number(flags) }),
  } as unknown as VoiceConnection;
  return {
    conn,
    sent,
    speaking,
    payloads: () => sent.map((s) => cipher.open(s.packet).payload),
    setReady: (r: boolean) => (ready = r),
    state$,
  };
}

/** A demand-aware source of `n` distinct 1-byte "frames" (synchronous while the gate is open). */
function frames(n: number, produced: number[] = []): Observable<Buffer> {
  return frameSource((i) => {
    if (i >= n) return undefined;
    produced.push(i + 1);
    return Buffer.from([i]);
  });
}

describe('pace (marbles)', () => {
  test('re-times a burst to one item per 20 ms, completes after the last', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = cold('(abc|)');
      expectObservable(src.pipe(pace({ scheduler: ts }))).toBe('a 19ms b 19ms (c|)');
    });
  });

  test('emits nothing while empty, then resumes on the grid', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const src = cold('a 50ms b|');
      // a at 0; b arrives at 51, goes out at the next tick (60), completes on the tick after
      expectObservable(src.pipe(pace({ scheduler: ts }))).toBe('a 59ms (b|)');
    });
  });

  test('errors after the items buffered before the error', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      expectObservable(cold('(ab#)').pipe(pace({ scheduler: ts }))).toBe('a 19ms (b#)');
    });
  });

  test('reads only leadMs ahead of what it emitted (demand)', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const produced: number[] = [];
      const out = frames(100, produced).pipe(pace({ scheduler: ts, leadMs: 100 }), map((b) => b[0]));
      expectObservable(out, '^ 45ms !').toBe('a 19ms b 19ms c', { a: 0, b: 1, c: 2 });
      ts.flush();
      // 5 frames of lead at first, then one more per emitted frame
      expect(produced.length).toBe(5 + 3);
    });
  });
});

describe('silencePadding, packetize, encrypt (marbles)', () => {
  test('silencePadding appends n silence frames on completion only', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const a = Buffer.from([1]);
      expectObservable(cold('a|', { a }).pipe(silencePadding(2))).toBe('a(ss|)', { a, s: SILENCE });
      expectObservable(cold('a#', { a }).pipe(silencePadding(2))).toBe('a#', { a });
    });
  });

  test('packetize numbers packets (+1 sequence, +960 timestamp, SSRC); encrypt seals them for the connection', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const f = fakeConnection(ts);
      const src = cold('a-b-c|', { a: Buffer.from([1]), b: Buffer.from([2]), c: Buffer.from([3]) });
      const rtp$ = src.pipe(packetize(f.conn));
      const headers: Array<{ seq: number; ts: number; ssrc: number }> = [];
      rtp$.subscribe((p) => {
        const h = parseRtpHeader(p.header).header;
        headers.push({ seq: h.sequence, ts: h.timestamp, ssrc: h.ssrc });
      });
      const opened$ = src.pipe(packetize(f.conn), encrypt(f.conn), map((pkt) => createTransportCipher('aead_aes256_gcm_rtpsize', KEY).open(pkt).payload[0]));
      expectObservable(opened$).toBe('a-b-c|', { a: 1, b: 2, c: 3 });
      ts.flush();
      expect(headers.map((h) => h.ssrc)).toEqual([42, 42, 42]);
      // Both pipelines number from the connection's one RTP state: they interleave, never repeat.
      expect(headers.map((h) => (h.seq - headers[0].seq) & 0xffff)).toEqual([0, 2, 4]);
      expect(headers.map((h) => (h.ts - headers[0].ts) >>> 0)).toEqual([0, 1920, 3840]);
    });
  });

  test('packets are dropped while the connection is not ready', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const f = fakeConnection(ts);
      f.setReady(false);
      expectObservable(cold('a|', { a: Buffer.from([1]) }).pipe(packetize(f.conn))).toBe('-|');
    });
  });
});

describe('voiceSink (marbles, fake connection)', () => {
  test('one frame per 20 ms, speaking on at the first, 5 silence frames and speaking off at the end', () => {
    const ts = newScheduler();
    ts.run(({ expectObservable }) => {
      const f = fakeConnection(ts);
      const out = frames(3).pipe(voiceSink(f.conn, { scheduler: ts, progressEveryMs: 1e9 }), map((p) => p.status));
      // progress on status changes: playing at 0, ended after 3 frames + 5 silence frames (tick 8 = 160 ms)
      expectObservable(out).toBe('p 139ms (e|)', { p: 'playing', e: 'ended' });
      ts.flush();
      expect(f.sent.map((s) => s.at)).toEqual([0, 20, 40, 60, 80, 100, 120, 140]);
      expect(f.payloads().map((p) => p.toString('hex'))).toEqual(['00', '01', '02', ...Array(5).fill('f8fffe')]);
      expect(f.speaking).toEqual([
        { at: 0, flags: 1 },
        { at: 140, flags: 0 },
      ]);
    });
  });

  test('pause: 5 silence frames, nothing more until resume', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const f = fakeConnection(ts);
      const control = createPlaybackControl();
      const out = frames(10).pipe(voiceSink(f.conn, { scheduler: ts, control, progressEveryMs: 1e9 }), map((p) => p.status));
      cold('30ms p 199ms r', { p: 'pause', r: 'resume' }).subscribe((c) => (c === 'pause' ? control.pause() : control.resume()));
      expectObservable(out).toBe('p 39ms x 199ms p 239ms (e|)', { p: 'playing', x: 'paused', e: 'ended' });
      ts.flush();
      const hex = f.payloads().map((p) => p.toString('hex'));
      expect(hex).toEqual(['00', '01', ...Array(5).fill('f8fffe'), '02', '03', '04', '05', '06', '07', '08', '09', ...Array(5).fill('f8fffe')]);
      expect(f.speaking.map((s) => s.flags)).toEqual([1, 0, 1, 0]);
    });
  });

  test('seek drops what is buffered and moves the position; a connection that is not ready makes frames wait', () => {
    const ts = newScheduler();
    ts.run(({ cold }) => {
      const f = fakeConnection(ts);
      const control = createPlaybackControl();
      const progress: Array<{ at: number; status: string; positionMs: number }> = [];
      frames(10)
        .pipe(voiceSink(f.conn, { scheduler: ts, control, progressEveryMs: 1e9 }))
        .subscribe((p) => progress.push({ at: ts.now(), status: p.status, positionMs: p.positionMs }));
      cold('30ms a 29ms b', { a: 'off', b: 'on' }).subscribe((x) => f.setReady(x === 'on'));
      cold('130ms s').subscribe(() => control.seek(5000));
      ts.flush();
      // frames 0, 1 at 0 and 20; the tick at 40 waits (not ready); 2..5 at 60..120; the seek at 130 drops 6..9
      expect(f.sent.map((s) => s.at).slice(0, 6)).toEqual([0, 20, 60, 80, 100, 120]);
      expect(f.payloads().map((p) => p.toString('hex'))).toEqual(['00', '01', '02', '03', '04', '05', ...Array(5).fill('f8fffe')]);
      expect(progress.map((p) => p.status)).toEqual(['playing', 'buffering', 'playing', 'ended']);
      expect(progress[progress.length - 1].positionMs).toBe(5000);
    });
  });

  test('packets sealed ahead (afterTick) never leave a gap: pause, not ready, seek and a new transport keep sequence and timestamp contiguous, the nonce rising (never reused)', () => {
    const ts = newScheduler();
    ts.run(({ cold }) => {
      const f = fakeConnection(ts);
      // A second session (new key, new SSRC) from 250 ms on, as after a reconnect.
      const cipher2 = createTransportCipher('aead_aes256_gcm_rtpsize', new Uint8Array(32).fill(9));
      const sent2: Buffer[] = [];
      const transport2 = { ssrc: 43, mode: cipher2.mode, cipher: cipher2, e2ee: (x: Buffer) => x, udp: { send: (p: Uint8Array) => sent2.push(Buffer.from(p)) } };
      let second = false;
      const conn = Object.create(f.conn, {
        transport: { get: () => (second ? transport2 : (f.conn as { transport: unknown }).transport) },
      }) as VoiceConnection;
      const control = createPlaybackControl();
      frames(30).pipe(voiceSink(conn, { scheduler: ts, control, progressEveryMs: 1e9 })).subscribe();
      cold('30ms p 59ms r').subscribe((c) => (c === 'p' ? control.pause() : control.resume()));
      cold('150ms a 19ms b', { a: 'off', b: 'on' }).subscribe((x) => f.setReady(x === 'on'));
      cold('210ms s').subscribe(() => control.seek(1000));
      cold('250ms n').subscribe(() => (second = true));
      ts.flush();
      const cipher1 = createTransportCipher('aead_aes256_gcm_rtpsize', KEY);
      const opened = [
        ...f.sent.map((s) => ({ ...cipher1.open(s.packet), key: 1 })),
        ...sent2.map((p) => ({ ...cipher2.open(p), key: 2 })),
      ];
      expect(sent2.length).toBeGreaterThanOrEqual(3);
      for (let i = 1; i < opened.length; i++) {
        expect(opened[i].header.sequence).toBe((opened[i - 1].header.sequence + 1) & 0xffff);
        expect(opened[i].header.timestamp).toBe((opened[i - 1].header.timestamp + 960) >>> 0);
        // The nonce of a dropped prepared packet is never given back (a reused nonce breaks the AEAD): it only rises.
        const step = (opened[i].nonce - opened[i - 1].nonce) >>> 0;
        expect(step === 1 || step === 2).toBe(true);
      }
      expect(opened.filter((o) => o.key === 2).every((o) => o.header.ssrc === 43)).toBe(true);
    });
  });

  test('a destroyed connection errors the sink', () => {
    const ts = newScheduler();
    ts.run(({ cold, expectObservable }) => {
      const f = fakeConnection(ts);
      cold('50ms d').subscribe(() => f.state$.next({ status: 'destroyed', reason: 'destroy-called' }));
      const out = frames(100).pipe(voiceSink(f.conn, { scheduler: ts, progressEveryMs: 1e9 }), map((p) => p.status));
      expectObservable(out).toBe('p 49ms (e#)', { p: 'playing', e: 'ended' }, expect.objectContaining({ code: 'CONNECTION_CLOSED' }));
    });
  });
});
