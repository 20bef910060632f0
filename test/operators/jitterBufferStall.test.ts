/**
 * jitterBuffer after event-loop stalls: the shared clock never bursts, it reports the ticks it
 * skipped; the buffer plays their slots out at once instead of staying behind (which filled it
 * up and dropped packets that had come on time).
 */
import { Subject } from 'rxjs';
import type { ClockTick, VoiceClock } from '../../src/core/VoiceClock';
import type { JitterItem } from '../../src/core/JitterItem';
import type { ReceivedPacket } from '../../src/gateway/VoiceReceiver';
import { jitterBuffer, type JitterBufferStats } from '../../src/operators/jitterBuffer';

/** A clock driven by the test: `tick(skipped)` runs one tick at `now`. */
function manualClock(): VoiceClock & { at: number; tick(skipped?: number): void } {
  let listener: ((t: ClockTick) => void) | null = null;
  let index = 0;
  const clock = {
    frameMs: 20,
    at: 0,
    now: () => clock.at,
    add(onTick: (t: ClockTick) => void) {
      listener = onTick;
      return () => {
        listener = null;
      };
    },
    tick(skipped = 0) {
      index += 1 + skipped;
      listener?.({ index, deadline: clock.at, now: clock.at, skipped });
    },
  };
  return clock;
}

const packet = (n: number, at: number): ReceivedPacket => ({ sequence: n, timestamp: n * 960, ssrc: 1, payload: Buffer.from([0xfc, n & 0xff, 1, 2]), receivedAt: at });

test('ticks skipped by stalls are played out at once: every packet that came on time is played, none dropped', () => {
  const clock = manualClock();
  const input = new Subject<ReceivedPacket>();
  const out: JitterItem[] = [];
  let stats: JitterBufferStats | null = null;
  let completed = false;
  input.pipe(jitterBuffer({ clock, delayMs: 60, maxDelayMs: 200, onStats: (s) => (stats = s) })).subscribe({ next: (i) => out.push(i), complete: () => (completed = true) });
  // 300 packets at a steady 50/s; every 10th tick the event loop stalls for 3 ticks (60 ms),
  // the next tick reports them skipped.
  let sent = 0;
  for (let t = 0; t < 330; t++) {
    clock.at = t * 20;
    if (sent < 300) input.next(packet(sent++, clock.at));
    if (sent === 300 && t === 300) input.complete(); // (else its end plays out as up to 200 ms of gaps)
    if (t % 10 === 9) continue; // stalled: no tick now …
    clock.tick(t % 10 === 0 && t > 0 ? 1 : 0); // … the next one reports it skipped
  }
  expect(stats!.overflow).toBe(0);
  expect(stats!.late).toBe(0);
  expect(stats!.played).toBe(300);
  expect(stats!.gaps).toBe(0);
  expect(out.filter((i) => Buffer.isBuffer(i))).toHaveLength(300);
  expect(completed).toBe(true);
});

test('items that are not receiver packets (NaN or out-of-range sequence/timestamp, no payload) are dropped and counted; the buffer still ends', () => {
  const clock = manualClock();
  const input = new Subject<ReceivedPacket>();
  const out: JitterItem[] = [];
  let stats: JitterBufferStats | null = null;
  let completed = false;
  input.pipe(jitterBuffer({ clock, delayMs: 40, onStats: (s) => (stats = s) })).subscribe({ next: (i) => out.push(i), complete: () => (completed = true) });
  const bad: unknown[] = [
    { ...packet(1, 0), sequence: Number.NaN },
    { ...packet(1, 0), sequence: 70_000 },
    { ...packet(1, 0), timestamp: -1 },
    { ...packet(1, 0), receivedAt: Number.NaN },
    { ...packet(1, 0), payload: 'opus' },
  ];
  for (const b of bad) input.next(b as ReceivedPacket);
  for (let n = 0; n < 5; n++) input.next(packet(10 + n, clock.at));
  input.complete();
  for (let i = 0; i < 20 && !completed; i++) {
    clock.at += 20;
    clock.tick();
  }
  expect(completed).toBe(true);
  expect(out.filter((i) => Buffer.isBuffer(i))).toHaveLength(5);
  expect(stats!.malformed).toBe(5);
});

test('bad options are INVALID_ARGUMENT at call time', () => {
  for (const o of [{ delayMs: Number.NaN }, { delayMs: -1 }, { maxDelayMs: Number.POSITIVE_INFINITY }, { maxDelayMs: 60_000 }]) {
    expect(() => jitterBuffer(o)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  }
});
