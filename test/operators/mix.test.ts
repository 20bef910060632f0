import { defer, from, lastValueFrom, NEVER, Observable, toArray } from 'rxjs';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { currentDemand, SinkDemand, withDemand, type FrameDemand } from '../../src/core/FrameDemand';
import { frameSource } from '../../src/sources/frameSource';
import { MIX_MAX_QUEUED_FRAMES, mix, mixWith } from '../../src/operators/mix';
import { dominantFrequency, frequencyPower, generateTone } from '../../src/testing/audio';
import { constFrame, newScheduler, peak, samplesOf, toFrames } from './audioOperatorFixtures';

const f = (v: number) => constFrame(v);

describe('mix (marbles)', () => {
  it('sums frame by frame at the pace of the slowest input; a finished input adds silence', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const a = cold('a-b-c|', { a: f(100), b: f(200), c: f(300) });
      const b = cold('-d-e|', { d: f(-10), e: f(20) });
      expectObservable(mix(a, b)).toBe('-x-yz|', { x: f(90), y: f(220), z: f(300) });
      expectSubscriptions(a.subscriptions).toBe('^----!');
      expectSubscriptions(b.subscriptions).toBe('^---!');
    });
  });

  it('waits for a late input and then catches up', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const fast = cold('aaa|', { a: f(1) });
      const slow = cold('----(bb)|', { b: f(2) });
      expectObservable(mix(fast, slow)).toBe('----(xx)(y|)', { x: f(3), y: f(1) });
    });
  });

  it('errors as soon as an input errors and unsubscribes the others', () => {
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const a = cold('a-a-a-a|', { a: f(1) });
      const b = hot('-b-#', { b: f(1) }, new Error('decoder died'));
      expectObservable(mix(a, b)).toBe('-x-#', { x: f(2) }, new Error('decoder died'));
      expectSubscriptions(a.subscriptions).toBe('^--!');
    });
  });

  it('errors with BAD_FRAME on a frame longer than 3840 bytes; shorter frames count as zero-padded', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const short = constFrame(7, 8);
      const expected = Buffer.alloc(PCM_FRAME_BYTES);
      for (let i = 0; i < 8; i += 2) expected.writeInt16LE(7, i);
      expectObservable(mix(cold('a|', { a: short }))).toBe('a|', { a: expected });
      const long = Buffer.alloc(PCM_FRAME_BYTES + 2);
      expectObservable(mix(cold('-a|', { a: long }))).toBe('-#', undefined, expect.objectContaining({ code: 'BAD_FRAME' }));
    });
  });

  it('completes at once with no inputs; unsubscription reaches every input', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      expectObservable(mix()).toBe('|');
      const a = cold('a-a-a-a|', { a: f(1) });
      const b = cold('a-a-a-a|', { a: f(1) });
      expectObservable(mix(a, b), '^--!').toBe('x-x', { x: f(2) });
      expectSubscriptions(a.subscriptions).toBe('^--!');
      expectSubscriptions(b.subscriptions).toBe('^--!');
    });
  });

  it(`holds at most ${MIX_MAX_QUEUED_FRAMES} frames of a fast input, then stops waiting for a stalled one`, () => {
    newScheduler().run(({ cold, hot, expectObservable }) => {
      // 60 frames, one per time unit, against an input silent until t = 70.
      const fast = cold(`${'a'.repeat(60)}|`, { a: f(1) });
      const stalled = hot(`${'-'.repeat(70)}b|`, { b: f(2) });
      // Frames 0‥48 queue; from the 50th on, one frame goes out per frame in (the stalled
      // input underruns). The late frame is mixed with the next queued one; the other 48
      // drain when the stalled input completes.
      const expected = `${'-'.repeat(49)}${'x'.repeat(11)}${'-'.repeat(10)}y(${'x'.repeat(48)}|)`;
      expectObservable(mix(fast, stalled)).toBe(expected, { x: f(1), y: f(3) });
    });
  });

  it('mixWith is mix with the source first', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('a|', { a: f(5) }).pipe(mixWith(cold('a|', { a: f(6) })))).toBe('a|', { a: f(11) });
    });
  });
});

describe('mix', () => {
  it('lines up synchronous inputs exactly, however long', async () => {
    const frames = (v: number) => Array.from({ length: 3 * MIX_MAX_QUEUED_FRAMES }, () => f(v));
    const out = await lastValueFrom(mix(from(frames(1)), from(frames(2))).pipe(toArray()));
    expect(out).toHaveLength(3 * MIX_MAX_QUEUED_FRAMES);
    expect(out.every((frame) => frame.equals(f(3)))).toBe(true);
  });

  it('soft-clips: unchanged below 0.8 of full scale, bent smoothly towards full scale above, never past it', async () => {
    const cases: Array<[number, number]> = [
      [10_000, 10_000],
      [14_000, 14_000],
      [20_000, 20_000],
      [32_767, 32_767],
      [-32_768, -32_768],
      [-20_000, -20_000],
    ];
    const sums: number[] = [];
    for (const [a, b] of cases) {
      const [frame] = await lastValueFrom(mix(from([f(a)]), from([f(b)])).pipe(toArray()));
      const s = samplesOf(frame);
      expect(new Set(s).size).toBe(1);
      sums.push(s[0]);
    }
    expect(sums[0]).toBe(20_000); // below the knee: exact
    expect(sums[1]).toBeGreaterThan(26_214); // above the knee: compressed but still increasing
    expect(sums[1]).toBeLessThan(28_000);
    expect(sums[2]).toBeGreaterThan(sums[1]);
    expect(sums[3]).toBeGreaterThan(sums[2]);
    expect(sums[3]).toBeLessThanOrEqual(32_767);
    expect(sums[4]).toBeGreaterThanOrEqual(-32_767);
    expect(sums[5]).toBe(-sums[2]); // symmetric
  });

  it('mixes 440 Hz and 660 Hz tones: both present, nothing at 550 Hz, no int16 overflow', async () => {
    const a = toFrames(generateTone({ frequency: 440, durationMs: 500, amplitude: 0.5 }));
    const b = toFrames(generateTone({ frequency: 660, durationMs: 300, amplitude: 0.5 }));
    const out = await lastValueFrom(mix(from(a), from(b)).pipe(toArray()));
    expect(out).toHaveLength(a.length); // as long as the longest input
    const both = Buffer.concat(out.slice(0, b.length));
    const p440 = frequencyPower(both, 440);
    const p660 = frequencyPower(both, 660);
    const p550 = frequencyPower(both, 550);
    expect(p440).toBeGreaterThan(0.05);
    expect(p660).toBeGreaterThan(0.05);
    expect(p550).toBeLessThan(1e-3 * Math.min(p440, p660));
    // The peaks (up to 1.0 full scale) are bent below full scale rather than clipped.
    expect(peak(both)).toBeLessThan(32_767);
    expect(peak(both)).toBeGreaterThan(0.8 * 32_767);
    // After the shorter input ends, the longer continues alone.
    expect(Math.abs(dominantFrequency(Buffer.concat(out.slice(b.length))) - 440)).toBeLessThan(2);
  });

  it('gives every input a demand that follows the sink’s', () => {
    const seen: Array<FrameDemand | null> = [];
    const probe = (): Observable<Buffer> =>
      defer(() => {
        seen.push(currentDemand());
        return NEVER;
      });
    const demand = new SinkDemand(40); // 2 frames of lead
    const mixed = mix(probe(), probe(), frameSource(() => f(1)));
    const sub = withDemand(demand, () => mixed.subscribe(() => demand.received()));
    expect(seen).toHaveLength(2);
    expect(seen[0]).not.toBe(seen[1]);
    // The sink holds 0 frames: the third input may queue up to the mix's bound, then the mix
    // emits (the probes underrun) until the sink's lead is reached; then every input is held.
    expect(demand.bufferedMs).toBe(40);
    expect(seen.map((d) => d?.open)).toEqual([false, false]);
    demand.consume(40);
    expect(seen.map((d) => d?.open)).toEqual([false, false]); // refilled at once by the third input
    sub.unsubscribe();
  });

  it('lets a demand-aware input run at most the sink’s lead (or the mix’s bound) ahead of a slow input', () => {
    /** A source that reads as far as the demand allows, like a file source. */
    const gated = (frames: number, value: number, produced: { n: number }): Observable<Buffer> =>
      frameSource((i) => {
        if (i >= frames) return undefined;
        produced.n++;
        return f(value);
      });
    newScheduler().run(({ cold, flush }) => {
      const produced = { n: 0 };
      const demand = new SinkDemand(200); // 10 frames of lead: the sink never holds more
      let consumed = 0;
      let worstLead = 0;
      const slow = cold(`${'-a'.repeat(40)}|`, { a: f(2) });
      withDemand(demand, () =>
        mix(gated(40, 1, produced), slow).subscribe((frame) => {
          demand.received();
          expect(frame.equals(f(3))).toBe(true);
          consumed++;
          demand.consume();
          worstLead = Math.max(worstLead, produced.n - consumed);
        }),
      );
      flush();
      expect(consumed).toBe(40);
      expect(worstLead).toBeLessThan(MIX_MAX_QUEUED_FRAMES);
    });
  });
});
