import { BehaviorSubject, from, lastValueFrom, map, of, Subject, toArray } from 'rxjs';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { volume } from '../../src/operators/volume';
import { generateTone, rms } from '../../src/testing/audio';
import { constFrame, newScheduler, peak, samplesOf, toFrames } from './audioOperatorFixtures';

const { abs } = Math;

/** A small stereo frame (4 sample pairs) for marbles. */
const small = (v: number) => constFrame(v, 16);

describe('volume (marbles)', () => {
  it('scales every frame at its own time and completes with the source', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b--c|', { a: small(1000), b: small(-2000), c: small(3) });
      expectObservable(source.pipe(volume(0.5))).toBe('a-b--c|', { a: small(500), b: small(-1000), c: small(2) });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('volume(1) passes the very same frames through', () => {
    const a = small(1234);
    newScheduler().run(({ cold, expectObservable }) => {
      const out = cold('-a|', { a }).pipe(volume(1), map((frame) => frame === a));
      expectObservable(out).toBe('-t|', { t: true });
    });
  });

  it('passes the source error through, and unsubscription up', () => {
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      expectObservable(hot('-a-#', { a: small(10) }).pipe(volume(2))).toBe('-a-#', { a: small(20) });
      const source = cold('a-a-a|', { a: small(10) });
      expectObservable(source.pipe(volume(2)), '^-!').toBe('a-', { a: small(20) });
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('follows a gain observable, ramping across the frame after each change', () => {
    // Ramp over 4 pairs from 1 to 0.5: gains 0.875, 0.75, 0.625, 0.5 (the same for L and R).
    const ramp = Buffer.alloc(16);
    [875, 750, 625, 500].forEach((v, i) => {
      ramp.writeInt16LE(v, 4 * i);
      ramp.writeInt16LE(v, 4 * i + 2);
    });
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const gain = hot('----h----z--|', { h: 0.5, z: 0 });
      const source = cold('a-a-a-a-a-a-a|', { a: small(1000) });
      const ramp2 = Buffer.alloc(16);
      [375, 250, 125, 0].forEach((v, i) => {
        ramp2.writeInt16LE(v, 4 * i);
        ramp2.writeInt16LE(v, 4 * i + 2);
      });
      expectObservable(source.pipe(volume(gain))).toBe('a-a-r-h-h-s-z|', { a: small(1000), r: ramp, h: small(500), s: ramp2, z: small(0) });
      // The gain stays in force after its observable completes (frame 12).
      expectSubscriptions(gain.subscriptions).toBe('^-----------!');
    });
  });

  it('applies a gain that arrives before the first frame from the start (no ramp)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('-a-a|', { a: small(1000) }).pipe(volume(of(0.25)))).toBe('-b-b|', { b: small(250) });
    });
  });

  it('errors when the gain observable errors or emits an invalid gain', () => {
    newScheduler().run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const source = cold('a-a-a|', { a: small(8) });
      expectObservable(source.pipe(volume(hot('---#', undefined, new Error('knob'))))).toBe('a-a#', { a: small(8) }, new Error('knob'));
      expectSubscriptions(source.subscriptions).toBe('^--!');
      const invalid = cold('a-a-a|', { a: small(8) }).pipe(volume(hot('--x', { x: -1 })));
      expectObservable(invalid).toBe('a-#', { a: small(8) }, expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    });
  });
});

describe('volume', () => {
  const tone = (amplitude: number) => generateTone({ frequency: 440, durationMs: 200, amplitude });
  const apply = async (pcm: Buffer, gain: Parameters<typeof volume>[0]) =>
    Buffer.concat(await lastValueFrom(from(toFrames(pcm)).pipe(volume(gain), toArray())));

  it('volume(0.5) halves the RMS', async () => {
    const pcm = tone(0.5);
    const out = await apply(pcm, 0.5);
    expect(out.length).toBe(pcm.length);
    expect(abs(rms(out) / rms(pcm) - 0.5)).toBeLessThan(0.025);
  });

  it('volume(4) on a loud tone saturates at the int16 limits without wrapping around', async () => {
    const pcm = tone(0.9);
    const out = await apply(pcm, 4);
    const input = samplesOf(pcm);
    const output = samplesOf(out);
    let clipped = 0;
    for (let i = 0; i < input.length; i++) {
      // Same sign as the input everywhere (a wrap-around would flip it at the peaks).
      if (Math.sign(output[i]) !== Math.sign(input[i])) throw new Error(`sign flip at sample ${i}: ${input[i]} → ${output[i]}`);
      if (output[i] === 32767 || output[i] === -32768) clipped++;
    }
    expect(clipped).toBeGreaterThan(input.length / 2);
    expect(peak(out)).toBe(32768);
  });

  it('changes level mid-stream when the gain observable emits', async () => {
    const gain = new BehaviorSubject(1);
    const frames = toFrames(tone(0.5));
    const source = new Subject<Buffer>();
    const collected = lastValueFrom(source.pipe(volume(gain), toArray()));
    frames.forEach((frame, i) => {
      if (i === 5) gain.next(0.25);
      source.next(frame);
    });
    source.complete();
    const out = await collected;
    expect(out.slice(0, 5).every((frame, i) => frame === frames[i])).toBe(true); // gain 1: no copies
    expect(abs(rms(Buffer.concat(out.slice(6))) / rms(Buffer.concat(frames.slice(6))) - 0.25)).toBeLessThan(0.0125);
    // The change is spread over frame 5, not a step: its RMS lies between the two levels.
    const ratio = rms(out[5]) / rms(frames[5]);
    expect(ratio).toBeGreaterThan(0.3);
    expect(ratio).toBeLessThan(0.95);
    expect(out.every((frame) => frame.length === PCM_FRAME_BYTES)).toBe(true);
  });

  it('rejects a negative or non-finite gain synchronously', () => {
    for (const bad of [-0.1, NaN, Infinity]) expect(() => volume(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
