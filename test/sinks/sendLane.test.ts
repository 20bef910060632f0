/**
 * The send lane and the sink engine on a hand-driven clock (no sockets): the memory bound
 * never fights demand, nonces are never reused on a connection, and player event handlers
 * act between ticks, never in the middle of a send.
 */
import { BehaviorSubject, lastValueFrom, of, Subject, toArray } from 'rxjs';
import type { ClockTick, VoiceClock } from '../../src/core/VoiceClock';
import type { VoiceConnection } from '../../src/gateway/connectVoice';
import { encrypt } from '../../src/operators/encrypt';
import { packetize } from '../../src/operators/packetize';
import { createPlayer } from '../../src/player';
import { createTransportCipher } from '../../src/protocol/transportCrypto';
import { createPlaybackControl } from '../../src/sinks/createPlaybackControl';
import { voiceSink } from '../../src/sinks/voiceSink';
import { frameSource } from '../../src/sources/frameSource';

function fakeConnection() {
  const sent: Buffer[] = [];
  const speaking: number[] = [];
  const cipher = createTransportCipher('aead_aes256_gcm_rtpsize', new Uint8Array(32).fill(7));
  const transport = { ssrc: 42, mode: cipher.mode, cipher, udp: { send: (b: Buffer) => void sent.push(b) }, e2ee: (x: Buffer) => x, toJSON: () => ({}) };
  const state$ = new BehaviorSubject<{ status: string }>({ status: 'ready' });
  const conn = {
    transport,
    state$,
    setSpeaking: (f: number | boolean) => void speaking.push(Number(f)),
  } as unknown as VoiceConnection;
  return { conn, sent, speaking, state$ };
}

/** A clock that ticks when told to (every 20 ms of its own time). */
function manualClock(): VoiceClock & { tick(): void } {
  const listeners = new Map<(t: ClockTick) => void, ((t: ClockTick) => void) | undefined>();
  let index = 0;
  return {
    frameMs: 20,
    now: () => index * 20,
    add(onTick, afterTick) {
      listeners.set(onTick, afterTick);
      return () => void listeners.delete(onTick);
    },
    tick() {
      const tick: ClockTick = { index, deadline: index * 20, now: index * 20, skipped: 0 };
      index++;
      const current = [...listeners];
      for (const [on] of current) on(tick);
      for (const [, after] of current) after?.(tick);
    },
  };
}

const nonceOf = (packet: Buffer): number => packet.readUInt32BE(packet.length - 4);
const flushMicrotasks = () => new Promise((r) => setImmediate(r));

test('a paced source is never dropped by the memory bound (and subscribing returns)', () => {
  const { conn, sent } = fakeConnection();
  const clock = manualClock();
  const progress: number[] = [];
  const sub = frameSource(() => Buffer.alloc(100, 1))
    .pipe(voiceSink(conn, { clock, maxBufferedBytes: 2000, progressEveryMs: 20 }))
    .subscribe((p) => progress.push(p.droppedFrames));
  for (let i = 0; i < 10; i++) clock.tick();
  expect(sent.length).toBe(10);
  expect(Math.max(...progress)).toBe(0);
  sub.unsubscribe();
});

test('nonces are never reused on a connection: a pause drops the prepared packet while packetize/encrypt seal in between', () => {
  const { conn, sent } = fakeConnection();
  const clock = manualClock();
  const control = createPlaybackControl();
  const sub = frameSource((i) => (i < 500 ? Buffer.from([i & 0xff, 1, 2]) : undefined))
    .pipe(voiceSink(conn, { clock, control }))
    .subscribe();
  const others: Buffer[] = [];
  const side = new Subject<Buffer>();
  side.pipe(packetize(conn), encrypt(conn)).subscribe((b) => others.push(b));
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 3; i++) clock.tick(); // the sink has sealed its next packet after each tick
    side.next(Buffer.from([9, 9, 9])); // another sealer on the connection
    control.pause(); // drops the prepared packet
    for (let i = 0; i < 6; i++) clock.tick(); // the silence frames
    control.resume();
  }
  sub.unsubscribe();
  const nonces = [...sent, ...others].map(nonceOf);
  expect(new Set(nonces).size).toBe(nonces.length);
});

test('player: a handler that destroys the player on start leaves no stray packet and turns speaking off', async () => {
  const { conn, sent, speaking } = fakeConnection();
  const clock = manualClock();
  const player = createPlayer(conn, { clock });
  player.events$.subscribe((e) => {
    if (e.type === 'start') player.destroy();
  });
  player.enqueue(frameSource((i) => (i < 50 ? Buffer.from([1, 2, 3]) : undefined)));
  for (let i = 0; i < 5; i++) {
    clock.tick();
    await flushMicrotasks();
  }
  expect(sent.length).toBe(1); // the first packet, then the handler ran between ticks
  expect(speaking).toEqual([1, 0]);
});

test('player: pause from an end handler takes effect from the next tick (one packet of the next track at most)', async () => {
  const { conn, sent } = fakeConnection();
  const clock = manualClock();
  const player = createPlayer(conn, { clock });
  const events: string[] = [];
  player.events$.subscribe((e) => {
    events.push(e.type === 'end' ? `end:${e.reason}` : e.type);
    if (e.type === 'end') player.pause();
  });
  const track = (v: number) => frameSource((i) => (i < 3 ? Buffer.from([v, i]) : undefined));
  player.play(of(track(1), track(2)));
  for (let i = 0; i < 12; i++) {
    clock.tick();
    await flushMicrotasks();
  }
  const voiced = sent.length - 5; // minus the pause's silence frames
  expect(events).toEqual(['start', 'end:finished', 'start']);
  expect(voiced).toBe(4); // track 1 whole, then one packet of track 2 (sent in the tick its start was announced)
  expect(player.state.status).toBe('paused');
  player.destroy();
  expect(await lastValueFrom(player.events$.pipe(toArray()), { defaultValue: [] })).toEqual([]);
});
