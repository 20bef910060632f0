import { mulberry32 } from '../../src/testing/internal/UdpFaultInjector';
import { SlotPlacer } from '../../src/sinks/internal/recording/SlotPlacer';
import { TrackTimeline, type SlotContent } from '../../src/sinks/internal/recording/TrackTimeline';

/** Deterministic PRNG (the emulator's fault injector's). */
const rng = mulberry32;

interface Sent {
  slot: number; // true slot on the receiver's clock
  sequence: number;
  timestamp: number;
  receivedAt: number;
}

/**
 * A sender talking `talkMs`, silent `pauseMs`, … for `totalMs`, its clock running at
 * `rate` × the receiver's; timestamps jump over pauses unless `frozen`; arrival = send
 * time + 5 ms + up to `jitterMs`, `reorder` of them swapped with the next one.
 */
function conversation(o: { totalMs: number; talkMs: number; pauseMs: number; rate: number; frozen: boolean; jitterMs: number; seed: number; startMs?: number }): Sent[] {
  const r = rng(o.seed);
  const out: Sent[] = [];
  let sequence = 40000;
  let timestamp = 0xffff0000; // wraps early
  let t = o.startMs ?? 0; // receiver ms
  while (t < o.totalMs) {
    const spurtEnd = Math.min(o.totalMs, t + o.talkMs);
    for (; t < spurtEnd; t += 20 / o.rate) {
      out.push({ slot: Math.floor(t / 20), sequence, timestamp, receivedAt: t + 5 + r() * o.jitterMs });
      sequence = (sequence + 1) & 0xffff;
      timestamp = (timestamp + 960) >>> 0;
    }
    if (!o.frozen) timestamp = (timestamp + Math.round(o.pauseMs * 48 * o.rate)) >>> 0;
    t += o.pauseMs;
  }
  return out.sort((a, b) => a.receivedAt - b.receivedAt);
}

describe('recording timeline placement (SlotPlacer)', () => {
  test.each([
    ['sender clock 100 ppm fast, timestamps jump over pauses', 1.0001, false],
    ['sender clock 100 ppm slow, timestamps jump over pauses', 0.9999, false],
    ['exact clock, timestamps frozen over pauses', 1, true],
    ['sender clock 100 ppm slow, timestamps frozen over pauses', 0.9999, true],
  ])('one hour, %s: every packet within 3 slots (60 ms) of where it was sent', (_name, rate, frozen) => {
    const packets = conversation({ totalMs: 3_600_000, talkMs: 10_000, pauseMs: 5_000, rate, frozen, jitterMs: 30, seed: 7 });
    const placer = new SlotPlacer(0);
    let worst = 0;
    let lastError = 0;
    const check = (slot: number, p: { slot: number }): void => {
      worst = Math.max(worst, Math.abs(slot - p.slot));
      lastError = slot - p.slot;
    };
    for (const p of packets) placer.place({ ssrc: 1, ...p }, check);
    placer.flush(Infinity, check as (slot: number, p: unknown) => void);
    expect(worst).toBeLessThanOrEqual(3);
    expect(Math.abs(lastError)).toBeLessThanOrEqual(3);
  });

  test('a rejoin with a new SSRC is placed at its arrival; a late start lands where it arrived', () => {
    const placer = new SlotPlacer(1000);
    const placed: Array<[number, number]> = [];
    const emit = (slot: number, p: { timestamp: number }): number => placed.push([p.timestamp, slot]);
    placer.place({ ssrc: 5, timestamp: 123, receivedAt: 2500 }, emit);
    placer.place({ ssrc: 5, timestamp: 123 + 960, receivedAt: 2522 }, emit);
    placer.place({ ssrc: 6, timestamp: 99, receivedAt: 9000 }, emit);
    placer.flush(Infinity, emit);
    expect(placed).toEqual([
      [123, 75],
      [123 + 960, 76],
      [99, 400],
    ]);
  });

  test('a burst after an event-loop stall is placed by its timestamps, not as a new spurt', () => {
    const placer = new SlotPlacer(0);
    const placed = new Map<number, number>();
    const emit = (slot: number, p: { timestamp: number }): void => void placed.set(p.timestamp / 960, slot);
    // 0‥9 on time (arrive 5 ms after their slot starts), 10‥19 held up by a 200 ms stall, then on time.
    for (let i = 0; i < 40; i++) placer.place({ ssrc: 1, timestamp: i * 960, receivedAt: i >= 10 && i < 20 ? 400 : i * 20 + 5 }, emit);
    placer.flush(Infinity, emit);
    for (let i = 0; i < 40; i++) expect(placed.get(i)).toBe(i);
  });
});

describe('recording timeline content (TrackTimeline)', () => {
  const audio = (n: number): Buffer => Buffer.from([0x78, n & 0xff, 1, 2, 3]);
  const kinds = (t: TrackTimeline, limit: number): string => {
    let s = '';
    t.finalize(limit, (_slot, c: SlotContent) => (s += c.kind === 'packet' ? 'p' : c.kind === 'lost' ? 'L' : '.'));
    return s;
  };

  test('a hole in the sequence is a loss; a pause with the sequence continuing is silence; before the first packet is silence', () => {
    const t = new TrackTimeline();
    // slots 2,3,(4 lost),5 then the sequence continues at slot 9 (a pause)
    t.add(2, { sequence: 10, payload: audio(1) });
    t.add(3, { sequence: 11, payload: audio(2) });
    t.add(5, { sequence: 13, payload: audio(3) });
    t.add(9, { sequence: 14, payload: audio(4) });
    expect(kinds(t, 11)).toBe('..ppLp...p.');
    expect(t.spurts()).toEqual([
      { start: 2, end: 6 },
      { start: 9, end: 10 },
    ]);
    t.add(3, { sequence: 11, payload: audio(2) });
    expect(t.late).toBe(1);
  });

  test('after Opus silence frames a gap is silence, not a loss', () => {
    const t = new TrackTimeline();
    t.add(0, { sequence: 1, payload: audio(1) });
    t.add(1, { sequence: 2, payload: Buffer.from([0xf8, 0xff, 0xfe]) });
    t.add(3, { sequence: 4, payload: audio(2) });
    expect(kinds(t, 4)).toBe('pp.p');
  });

  test('memory is bounded: at most maxHeld packets are held', () => {
    const t = new TrackTimeline(10);
    for (let i = 0; i < 100; i++) t.add(1000 + i, { sequence: i, payload: audio(i) });
    expect(t.overflow).toBe(90);
  });
});
