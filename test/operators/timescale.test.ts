import { BehaviorSubject, from, lastValueFrom, Observable, Subject, tap, toArray } from 'rxjs';
import { PCM_FRAME_BYTES, SAMPLE_RATE } from '../../src/core/audioFormat';
import { RxVoiceError } from '../../src/errors';
import { frameMediaMs, setFrameMediaMs } from '../../src/core/mediaTime';
import { timescale, type TimescaleParams } from '../../src/operators/timescale';

// Measured, not looked at: generated tones through synchronous `from(frames)` pipelines;
// frequency by interpolated zero crossings on the steady middle half, duration as the
// tone's audible span (first to last sample above 10 % of its amplitude).

const { abs, round, sin, PI, max } = Math;
const AMP = 16000;

/** `seconds` of an `hz` sine (both channels), in 3840-byte frames, the last zero-padded. */
function toneFrames(seconds: number, hz: number): Buffer[] {
  const n = round(seconds * SAMPLE_RATE);
  const frames: Buffer[] = [];
  for (let start = 0; start < n; start += 960) {
    const frame = Buffer.alloc(PCM_FRAME_BYTES);
    for (let i = 0; i < 960 && start + i < n; i++) {
      const v = round(AMP * sin((2 * PI * hz * (start + i)) / SAMPLE_RATE));
      frame.writeInt16LE(v, 4 * i);
      frame.writeInt16LE(v, 4 * i + 2);
    }
    frames.push(frame);
  }
  return frames;
}

/** Left channel of the concatenated frames. */
function leftOf(frames: Buffer[]): Int16Array {
  const all = Buffer.concat(frames);
  const out = new Int16Array(all.length >> 2);
  for (let i = 0; i < out.length; i++) out[i] = all.readInt16LE(4 * i);
  return out;
}

/** Frequency from upward zero crossings (linearly interpolated) in x[from, to). */
function zeroCrossingHz(x: Int16Array, from: number, to: number): number {
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = from + 1; i < to; i++) {
    const a = x[i - 1]!;
    const b = x[i]!;
    if (a < 0 && b >= 0) {
      const t = i - 1 + -a / (b - a);
      if (first < 0) first = t;
      last = t;
      count++;
    }
  }
  return ((count - 1) * SAMPLE_RATE) / (last - first);
}

/** Seconds from the first to the last sample above `threshold`. */
function audibleSeconds(x: Int16Array, threshold = AMP / 10): number {
  let a = 0;
  while (a < x.length && abs(x[a]!) < threshold) a++;
  let b = x.length - 1;
  while (b > a && abs(x[b]!) < threshold) b--;
  return (b + 1 - a) / SAMPLE_RATE;
}

function maxStep(x: Int16Array, from: number, to: number): number {
  let m = 0;
  for (let i = from + 1; i < to; i++) m = max(m, abs(x[i]! - x[i - 1]!));
  return m;
}

const run = (frames: Buffer[], params: TimescaleParams | Observable<TimescaleParams>): Promise<Buffer[]> =>
  lastValueFrom(from(frames).pipe(timescale(params), toArray()));

describe('timescale: measured on a 4 s 440 Hz tone', () => {
  const cases: Array<{ params: TimescaleParams; hz: number; seconds: number }> = [
    { params: { speed: 1.25 }, hz: 440, seconds: 3.2 },
    { params: { pitch: 1.5 }, hz: 660, seconds: 4 },
    { params: { rate: 2 }, hz: 880, seconds: 2 },
  ];
  for (const { params, hz, seconds } of cases) {
    it(`${JSON.stringify(params)} → ${hz} ±3 Hz for ${seconds} s ±1 %, in 3840-byte frames`, async () => {
      const out = await run(toneFrames(4, 440), params);
      expect(out.every((frame) => frame.length === PCM_FRAME_BYTES)).toBe(true);
      // the output's frame count is the expected duration, rounded up to whole frames
      expect(out.length).toBe(Math.ceil((seconds * 1000) / 20));
      const x = leftOf(out);
      expect(abs(zeroCrossingHz(x, x.length >> 2, (3 * x.length) >> 2) - hz)).toBeLessThanOrEqual(3);
      expect(abs(audibleSeconds(x) - seconds) / seconds).toBeLessThanOrEqual(0.01);
    });
  }

  it('combines like Lavalink: speed × rate sets the duration, pitch × rate the pitch', async () => {
    const out = await run(toneFrames(2, 440), { speed: 0.8, pitch: 0.8, rate: 1.25 });
    const x = leftOf(out);
    expect(abs(zeroCrossingHz(x, x.length >> 2, (3 * x.length) >> 2) - 440)).toBeLessThanOrEqual(3);
    expect(abs(audibleSeconds(x) - 2) / 2).toBeLessThanOrEqual(0.01);
  });

  it('keeps the level of the tone (no gain change, no clipping)', async () => {
    const x = leftOf(await run(toneFrames(2, 440), { speed: 1.25, pitch: 1.2 }));
    const mid = x.subarray(x.length >> 2, (3 * x.length) >> 2);
    const peak = mid.reduce((m, v) => max(m, abs(v)), 0);
    expect(abs(peak - AMP) / AMP).toBeLessThan(0.05);
  });

  it('removes content the pitch change would push above 24 kHz (anti-alias) instead of folding it back', async () => {
    // 18 kHz at rate 2 is 36 kHz: without a low-pass it would alias to 12 kHz at ~-4 dB.
    const x = leftOf(await run(toneFrames(1, 18_000), { rate: 2 }));
    const mid = x.subarray(x.length >> 2, (3 * x.length) >> 2);
    const rmsOut = Math.sqrt(mid.reduce((s, v) => s + v * v, 0) / mid.length);
    expect(20 * Math.log10(rmsOut / (AMP / Math.SQRT2))).toBeLessThan(-20);
  });
});

describe('timescale: live parameters', () => {
  /** Runs `frames` with `params$`, calling `at[i]()` just before frame i goes in. */
  async function live(frames: Buffer[], params$: Subject<TimescaleParams>, at: Record<number, () => void>): Promise<Buffer[]> {
    let i = 0;
    return lastValueFrom(
      from(frames).pipe(
        tap(() => at[i++]?.()),
        timescale(params$),
        toArray(),
      ),
    );
  }

  it('changes speed → pitch → rate mid-stream with no step larger than the tone’s own', async () => {
    const params$ = new BehaviorSubject<TimescaleParams>({ speed: 1.25 });
    const out = await live(toneFrames(6, 440), params$, {
      100: () => params$.next({ pitch: 1.5 }),
      200: () => params$.next({ rate: 2 }),
    });
    expect(out.every((frame) => frame.length === PCM_FRAME_BYTES)).toBe(true);
    // 100 frames at 1.25 → 80, 100 at 1 → 100, 100 at 2 → 50
    expect(abs(out.length - 230)).toBeLessThanOrEqual(1);
    const x = leftOf(out);
    const end = x.length - 9600; // before the tone's own end
    // the highest tone (880 Hz, the last part) sets the largest legitimate step: measure it
    const own = maxStep(x, end - 24_000, end);
    expect(own).toBeGreaterThan(1700);
    expect(maxStep(x, 0, end)).toBeLessThanOrEqual(own * 1.02);
    // each part at its own pitch
    expect(abs(zeroCrossingHz(x, 20 * 960, 70 * 960) - 440)).toBeLessThanOrEqual(3);
    expect(abs(zeroCrossingHz(x, 110 * 960, 170 * 960) - 660)).toBeLessThanOrEqual(3);
    expect(abs(zeroCrossingHz(x, 190 * 960, 225 * 960) - 880)).toBeLessThanOrEqual(3);
  });

  it('passes frames through untouched while the values are 1, then engages without a click', async () => {
    const params$ = new BehaviorSubject<TimescaleParams>({});
    const input = toneFrames(4, 440);
    const out = await live(input, params$, { 100: () => params$.next({ pitch: 1.5 }) });
    for (let i = 0; i < 100; i++) expect(out[i]).toBe(input[i]);
    expect(out.every((frame) => frame.length === PCM_FRAME_BYTES)).toBe(true);
    expect(out.length).toBe(200);
    const x = leftOf(out);
    const end = x.length - 9600;
    const own = maxStep(x, end - 24_000, end); // 660 Hz
    expect(maxStep(x, 0, end)).toBeLessThanOrEqual(own * 1.02);
    expect(abs(zeroCrossingHz(x, 130 * 960, 190 * 960) - 660)).toBeLessThanOrEqual(3);
    // no gap in the content: the output is 4 s of tone
    expect(abs(audibleSeconds(x) - 4) / 4).toBeLessThanOrEqual(0.01);
  });

  it('applies values that arrive before the first frame from the start', async () => {
    const params$ = new Subject<TimescaleParams>();
    const source = new Subject<Buffer>();
    const done = lastValueFrom(source.pipe(timescale(params$), toArray()));
    params$.next({ speed: 1.5 });
    params$.next({ rate: 2 }); // only the latest counts
    toneFrames(2, 440).forEach((frame) => source.next(frame));
    source.complete();
    const out = await done;
    expect(out.length).toBe(50);
    const x = leftOf(out);
    expect(abs(zeroCrossingHz(x, x.length >> 2, (3 * x.length) >> 2) - 880)).toBeLessThanOrEqual(3);
  });

  it('errors with a typed error naming the field when the observable emits an invalid set', async () => {
    const params$ = new BehaviorSubject<TimescaleParams>({ speed: 1.25 });
    const result = live(toneFrames(1, 440), params$, { 10: () => params$.next({ pitch: -1 }) });
    await expect(result).rejects.toBeInstanceOf(RxVoiceError);
    await expect(result).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('timescale.pitch') });
  });
});

describe('timescale: timeline', () => {
  it('tags each output frame with the input position it starts at (speed 1.25 → 25 ms per frame)', async () => {
    const out = await run(toneFrames(2, 440), { speed: 1.25 });
    const tags = out.map((frame) => frameMediaMs(frame));
    expect(tags.every((t) => typeof t === 'number')).toBe(true);
    tags.forEach((t, i) => expect(abs(t! - 25 * i)).toBeLessThan(1));
  });

  it('maps through the input frames’ own tags (e.g. a source that started at 30 s)', async () => {
    const input = toneFrames(1, 440);
    input.forEach((frame, i) => setFrameMediaMs(frame, 30_000 + 20 * i));
    const out = await run(input, { rate: 0.5 });
    expect(frameMediaMs(out[0]!)).toBe(30_000);
    expect(frameMediaMs(out[1]!)).toBeCloseTo(30_010, 6);
    expect(frameMediaMs(out[out.length - 1]!)).toBeCloseTo(30_000 + 10 * (out.length - 1), 6);
  });

  it('follows live changes: the position advances by speed × rate × 20 ms per frame', async () => {
    const params$ = new BehaviorSubject<TimescaleParams>({ speed: 2 });
    let i = 0;
    const out = await lastValueFrom(
      from(toneFrames(2, 440)).pipe(
        tap(() => i++ === 50 && params$.next({ speed: 0.5 })),
        timescale(params$),
        toArray(),
      ),
    );
    const tags = out.map((frame) => frameMediaMs(frame)!);
    for (let k = 1; k < tags.length; k++) {
      const step = tags[k]! - tags[k - 1]!;
      expect(step === 40 || step === 10 || (step > 10 && step < 40)).toBe(true);
    }
    expect(tags[5]! - tags[4]!).toBeCloseTo(40, 6);
    expect(tags[tags.length - 1]! - tags[tags.length - 2]!).toBeCloseTo(10, 6);
  });
});

describe('timescale: arguments and lifecycle', () => {
  it.each([
    [{ speed: 0 }, 'timescale.speed'],
    [{ speed: -1 }, 'timescale.speed'],
    [{ pitch: Number.NaN }, 'timescale.pitch'],
    [{ rate: Number.POSITIVE_INFINITY }, 'timescale.rate'],
    [{ rate: 9 }, 'timescale.rate'],
    [{ pitch: 0.1 }, 'timescale.pitch'],
    [{ speed: '2' as unknown as number }, 'timescale.speed'],
  ])('throws INVALID_ARGUMENT synchronously for %p, naming %s', (params, field) => {
    let thrown: unknown;
    try {
      timescale(params);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(RxVoiceError);
    expect(thrown).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining(field) });
  });

  it('throws for a value that is not an object', () => {
    expect(() => timescale(null as unknown as TimescaleParams)).toThrow(RxVoiceError);
  });

  it('returns the source itself for all-1 parameters', () => {
    const source = from(toneFrames(0.1, 440));
    expect(source.pipe(timescale({}))).toBe(source);
    expect(source.pipe(timescale({ speed: 1, pitch: 1, rate: 1 }))).toBe(source);
  });

  it('passes the source error through and stops on unsubscribe', async () => {
    const failing = new Observable<Buffer>((s) => {
      s.next(toneFrames(0.02, 440)[0]!);
      s.error(new Error('boom'));
    });
    await expect(lastValueFrom(failing.pipe(timescale({ speed: 1.5 })))).rejects.toThrow('boom');
    const source = new Subject<Buffer>();
    const sub = source.pipe(timescale({ speed: 1.5 })).subscribe();
    expect(source.observed).toBe(true);
    sub.unsubscribe();
    expect(source.observed).toBe(false);
  });

  it('handles the extremes of the range (1/8 and 8) with exact frames', async () => {
    const slow = await run(toneFrames(0.2, 440), { speed: 0.125, rate: 0.125 });
    expect(slow.length).toBe(Math.ceil((200 * 64) / 20));
    const fast = await run(toneFrames(2, 440), { speed: 8, pitch: 8, rate: 8 });
    expect(fast.length).toBe(Math.ceil(2000 / 64 / 20));
    expect([...slow, ...fast].every((frame) => frame.length === PCM_FRAME_BYTES)).toBe(true);
  });
});
