/**
 * The driver's pacing figure: tick lateness histograms (core/sendLateness) and
 * `voiceDriverStats` windows over them.
 */
import { createHighResolutionClock } from '../../src/core/VoiceClock';
import { LATENESS_BUCKETS, latenessSummary } from '../../src/core/sendLateness';
import { voiceDriverStats } from '../../src';

test('latenessSummary: percentiles at 0.1 ms resolution, overflow at 100 ms, null when empty', () => {
  const h = new Array<number>(LATENESS_BUCKETS).fill(0);
  expect(latenessSummary(h)).toBeNull();
  h[3] = 98; // 0.3–0.4 ms
  h[25] = 1; // 2.5–2.6 ms
  h[LATENESS_BUCKETS - 1] = 1; // ≥ 100 ms
  expect(latenessSummary(h)).toEqual({ ticks: 100, p50: 0.4, p99: 2.6, max: 100 });
});

test('voiceDriverStats counts the ticks of a running clock, in windows', async () => {
  const first = await voiceDriverStats();
  const clock = createHighResolutionClock();
  const stop = clock.add(() => undefined);
  await new Promise((r) => setTimeout(r, 500));
  stop();
  const window = await voiceDriverStats({ since: first });
  // 25 ticks in 500 ms; margins for a loaded machine.
  expect(window.ticks).toBeGreaterThanOrEqual(15);
  expect(window.ticks).toBeLessThanOrEqual(30);
  expect(window.sendLatenessMs).not.toBeNull();
  expect(window.sendLatenessMs!.p50).toBeLessThan(20);
  const idle = await voiceDriverStats({ since: window });
  expect(idle.ticks).toBe(0);
  expect(idle.sendLatenessMs).toBeNull();
});
