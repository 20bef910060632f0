import { createHighResolutionClock, type ClockTick } from '../../src/core/VoiceClock';

test('ticks on the 20 ms grid; every afterTick runs after every onTick of the same tick', async () => {
  const clock = createHighResolutionClock();
  const log: string[] = [];
  const ticks: ClockTick[] = [];
  const c0 = process.cpuUsage();
  await new Promise<void>((resolve) => {
    const stopA = clock.add(
      (t) => {
        ticks.push(t);
        log.push(`a${t.index}`);
        if (ticks.length === 25) {
          stopA();
          stopB();
          resolve();
        }
      },
      (t) => log.push(`A${t.index}`),
    );
    const stopB = clock.add(
      (t) => log.push(`b${t.index}`),
      (t) => log.push(`B${t.index}`),
    );
  });
  const cpuMs = (process.cpuUsage(c0).user + process.cpuUsage(c0).system) / 1000;
  // Per tick: both onTicks, then both afterTicks (the 25th tick stopped both listeners in a's onTick).
  for (const t of ticks.slice(0, 24)) {
    const i = t.index;
    expect(log.indexOf(`a${i}`)).toBeLessThan(log.indexOf(`A${i}`));
    expect(log.indexOf(`b${i}`)).toBeLessThan(log.indexOf(`A${i}`));
    expect(log.indexOf(`A${i}`)).toBeLessThan(log.indexOf(`B${i}`));
    expect(log.indexOf(`B${i}`)).toBeLessThan(log.indexOf(`a${i + 1}`) === -1 ? Infinity : log.indexOf(`a${i + 1}`));
  }
  for (const t of ticks) {
    expect(t.deadline).toBeCloseTo(ticks[0].deadline + t.index * 20, 6);
    expect(t.now).toBeGreaterThanOrEqual(t.deadline - 0.05); // never early (sub-ms sleep before a deadline)
  }
  // Not a busy wait: ~500 ms of ticking costs far less than 500 ms of CPU.
  expect(cpuMs).toBeLessThan(250);
});
