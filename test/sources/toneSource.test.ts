import { take } from 'rxjs';
import { SinkDemand, withDemand } from '../../src/core/FrameDemand';
import { RxVoiceError } from '../../src/errors';
import { toneSource } from '../../src/sources';
import { dominantFrequency, generateTone } from '../../src/testing/audio';
import { collect, subscribeLive } from './helpers';

/** Largest absolute sample difference between two s16le buffers of equal length. */
function maxDiff(a: Buffer, b: Buffer): number {
  let max = 0;
  for (let i = 0; i < a.length; i += 2) max = Math.max(max, Math.abs(a.readInt16LE(i) - b.readInt16LE(i)));
  return max;
}

test('1 s → 50 frames of 3840 bytes, phase-continuous (matches generateTone within 1 LSB), 440 Hz', async () => {
  const { values, completed } = await collect(toneSource({ frequency: 440, durationMs: 1000 }));
  expect(completed).toBe(true);
  expect(values).toHaveLength(50);
  expect(values.every((f) => f.length === 3840)).toBe(true);
  const all = Buffer.concat(values);
  expect(maxDiff(all, generateTone({ frequency: 440, durationMs: 1000 }))).toBeLessThanOrEqual(1);
  expect(Math.abs(dominantFrequency(all) - 440)).toBeLessThanOrEqual(2);
});

test('a partial last frame is zero-padded', async () => {
  const { values } = await collect(toneSource({ frequency: 1000, durationMs: 1010, amplitude: 1 }));
  expect(values).toHaveLength(51);
  const last = values[50];
  expect(last.subarray(0, 1920).some((b) => b !== 0)).toBe(true);
  expect(last.subarray(1920).every((b) => b === 0)).toBe(true);
  expect(maxDiff(Buffer.concat(values).subarray(0, 1010 * 192), generateTone({ frequency: 1000, durationMs: 1010, amplitude: 1 }))).toBeLessThanOrEqual(1);
});

test('an endless tone stops on take(n)', async () => {
  const { values } = await collect(toneSource({ frequency: 440, durationMs: Infinity }).pipe(take(100)));
  expect(values).toHaveLength(100);
});

test('honours demand synchronously: 10 frames at a 200 ms lead, one more per consumed frame', () => {
  const demand = new SinkDemand(200);
  const live = subscribeLive(toneSource({ frequency: 440, durationMs: Infinity }), demand);
  expect(live.values).toHaveLength(10);
  demand.consume();
  expect(live.values).toHaveLength(11);
  demand.consume(100);
  expect(live.values).toHaveLength(16);
  live.subscription.unsubscribe();
  expect((demand as unknown as { changes: { observed: boolean } }).changes.observed).toBe(false);
});

test('a sink that consumes synchronously in next() gets all frames without recursion', () => {
  const demand = new SinkDemand(20);
  let count = 0;
  let done = false;
  withDemand(demand, () =>
    toneSource({ frequency: 440, durationMs: 120_000 }).subscribe({
      next: () => {
        count++;
        demand.consume();
      },
      complete: () => (done = true),
    }),
  );
  expect(done).toBe(true);
  expect(count).toBe(6000);
});

test('seek continues from that position with its phase', () => {
  const demand = new SinkDemand(100);
  const live = subscribeLive(toneSource({ frequency: 441, durationMs: 2000, amplitude: 0.8 }), demand);
  expect(live.values).toHaveLength(5);
  demand.seek(1500);
  demand.clear(); // as a sink does: it drops what it held from before the seek
  expect(live.values).toHaveLength(10);
  const reference = generateTone({ frequency: 441, durationMs: 2000, amplitude: 0.8 });
  const after = Buffer.concat(live.values.slice(5));
  expect(maxDiff(after, reference.subarray(1500 * 192, 1600 * 192))).toBeLessThanOrEqual(1);
  for (let i = 0; i < 5; i++) demand.clear();
  expect(live.completed).toBe(true);
  expect(live.values).toHaveLength(10 + 20);
});

test('bad options throw INVALID_ARGUMENT at call time', () => {
  expect(() => toneSource({ frequency: -1, durationMs: 10 })).toThrow(RxVoiceError);
  expect(() => toneSource({ frequency: 440, durationMs: NaN })).toThrow(/durationMs/);
  expect(() => toneSource({ frequency: 440, durationMs: 10, amplitude: 2 })).toThrow(/amplitude/);
});
