import { createHighResolutionClock, type ClockTick } from '../../src/core/VoiceClock';

test('ticks on the 20 ms grid; every afterTick runs after every onTick of the same tick', async () => {
  const clock = createHighResolutionClock();
  const log: string[] = [];
  const ticks: ClockTick[] = [];
  // Not a busy wait: count the timer wake-ups the clock asks for (CPU time is measured in
  // `npm run bench`, never in a unit test: other work in the process made it flaky).
  const realSetTimeout = global.setTimeout;
  let timers = 0;
  const spy = jest.spyOn(global, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    timers++;
    return realSetTimeout(fn, ms);
  }) as typeof setTimeout);
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
  spy.mockRestore();
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
  // One timer per tick, a second one only when a timer woke more than `spinMs` + 1 ms early.
  expect(timers).toBeLessThanOrEqual(ticks.length * 2 + 2);
});
