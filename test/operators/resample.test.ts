import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { RxVoiceError } from '../../src/errors';
import { resample, type ResampleOptions } from '../../src/operators/resample';
import { dominantFrequency, frequencyPower, generateTone } from '../../src/testing/audio';
import { constFrame, newScheduler, samplesOf } from './audioOperatorFixtures';

const { abs, max } = Math;

const run = (chunks: Buffer[], options: ResampleOptions) => lastValueFrom(from(chunks).pipe(resample(options), toArray()), { defaultValue: [] });

/** Splits `pcm` at the given byte offsets. */
function split(pcm: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (pcm.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of [...points, pcm.length]) {
    chunks.push(pcm.subarray(start, p));
    start = p;
  }
  return chunks;
}

describe('resample (marbles)', () => {
  const stereo48k = { sampleRate: 48_000, channels: 2 } as const;

  it('re-frames same-format chunks into 3840-byte frames, padding the last on completion', () => {
    const half = (v: number) => constFrame(v, PCM_FRAME_BYTES / 2);
    const x = Buffer.concat([half(1), half(2)]);
    const y = Buffer.concat([half(3), Buffer.alloc(PCM_FRAME_BYTES / 2)]);
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b-c|', { a: half(1), b: half(2), c: half(3) });
      expectObservable(source.pipe(resample({ from: stereo48k }))).toBe('--x--(y|)', { x, y });
      expectSubscriptions(source.subscriptions).toBe('^----!');
    });
  });

  it('emits several frames for a big chunk, sharing its memory when the format is unchanged', () => {
    const big = Buffer.concat([constFrame(5), constFrame(6), constFrame(7, 100)]);
    const seen: Buffer[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      const out = cold('-a---|', { a: big }).pipe(resample({ from: stereo48k }));
      out.subscribe((f) => seen.push(f));
      const last = Buffer.concat([constFrame(7, 100), Buffer.alloc(PCM_FRAME_BYTES - 100)]);
      expectObservable(out).toBe('-(xy)(z|)', { x: constFrame(5), y: constFrame(6), z: last });
    });
    expect(seen[0].buffer).toBe(big.buffer);
  });

  it('completes without output for an empty source, and passes errors through', () => {
    newScheduler().run(({ cold, hot, expectObservable }) => {
      expectObservable(cold<Buffer>('---|').pipe(resample({ from: { sampleRate: 44_100, channels: 1 } }))).toBe('---|');
      const source = hot('-a-b-#', { a: constFrame(1), b: constFrame(2, 10) });
      expectObservable(source.pipe(resample({ from: stereo48k }))).toBe('-a---#', { a: constFrame(1) });
    });
  });

  it('up-mixes mono to stereo and down-mixes stereo to mono at the same rate', () => {
    const mono = Buffer.alloc(PCM_FRAME_BYTES / 2);
    for (let i = 0; i < 960; i++) mono.writeInt16LE(i - 480, 2 * i);
    const stereo = Buffer.alloc(PCM_FRAME_BYTES);
    for (let i = 0; i < 960; i++) {
      stereo.writeInt16LE(i - 480, 4 * i);
      stereo.writeInt16LE(i - 480, 4 * i + 2);
    }
    const lr = Buffer.alloc(PCM_FRAME_BYTES);
    for (let i = 0; i < 960; i++) {
      lr.writeInt16LE(100, 4 * i);
      lr.writeInt16LE(-300, 4 * i + 2);
    }
    newScheduler().run(({ cold, expectObservable }) => {
      // Chunks cut mid-sample (odd sizes) must not matter.
      const source = cold('a-b|', { a: mono.subarray(0, 999), b: mono.subarray(999) });
      expectObservable(source.pipe(resample({ from: { sampleRate: 48_000, channels: 1 } }))).toBe('--s|', { s: stereo });
      const down = cold('a|', { a: lr }).pipe(resample({ from: stereo48k, to: { sampleRate: 48_000, channels: 1 } }));
      expectObservable(down).toBe('a|', { a: constFrame(-100, PCM_FRAME_BYTES / 2) });
    });
  });

  it('holds output until a whole frame is resampled, and flushes the filter tail on completion', () => {
    // 441 mono samples at 44.1 kHz = 10 ms → 480 samples at 48 kHz: half a frame.
    const chunk = Buffer.alloc(882);
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a-a-a|', { a: chunk });
      // 30 ms of input: the first frame completes with the 2nd chunk (plus filter look-ahead of
      // 16 samples, which the 3rd chunk provides); the rest is flushed on completion.
      expectObservable(source.pipe(resample({ from: { sampleRate: 44_100, channels: 1 } }))).toBe('----a(b|)', {
        a: Buffer.alloc(PCM_FRAME_BYTES),
        b: Buffer.alloc(PCM_FRAME_BYTES),
      });
    });
  });
});

describe('resample', () => {
  it('converts a 44.1 kHz mono 440 Hz tone to 48 kHz stereo: same pitch, same duration, no clicks', async () => {
    const input = generateTone({ frequency: 440, durationMs: 1000, sampleRate: 44_100, channels: 1 });
    const chunks = split(input, [777, 4000, 4001, 10_000, 33_333, 60_000]); // odd sizes: half samples carried over
    const frames = await run(chunks, { from: { sampleRate: 44_100, channels: 1 } });
    for (const f of frames) expect(f.length).toBe(PCM_FRAME_BYTES);
    expect(abs(frames.length - 50)).toBeLessThanOrEqual(1);
    const out = Buffer.concat(frames);
    expect(abs(dominantFrequency(out) - 440)).toBeLessThan(2);
    // Sample for sample, it is the tone generated at 48 kHz (away from the abrupt start and
    // end, where the band-limited filter rings): a click at a chunk boundary would show.
    const ideal = samplesOf(generateTone({ frequency: 440, durationMs: 1000 }));
    const s = samplesOf(out);
    let worst = 0;
    for (let i = 2 * 64; i < ideal.length - 2 * 64; i++) worst = max(worst, abs(s[i] - ideal[i]));
    expect(worst).toBeLessThanOrEqual(4);
    // Both channels are the same.
    for (let i = 0; i < s.length; i += 2) if (s[i] !== s[i + 1]) throw new Error(`L ≠ R at ${i}`);
  });

  it('gives identical output however the input is chunked (property)', async () => {
    const input = generateTone({ frequency: 1234, durationMs: 60, sampleRate: 44_100, channels: 2 });
    const options = { from: { sampleRate: 44_100, channels: 2 } } as const;
    const whole = Buffer.concat(await run([input], options));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: input.length }), { maxLength: 12 }), async (cuts) => {
        expect(Buffer.concat(await run(split(input, cuts), options))).toEqual(whole);
      }),
      { numRuns: 40 },
    );
  });

  it('keeps DC level and amplitude (unity gain)', async () => {
    const dc = constFrame(10_000, 44_100 * 2 * 2 / 10); // 100 ms stereo at 44.1 kHz
    const out = samplesOf(Buffer.concat(await run([dc], { from: { sampleRate: 44_100, channels: 2 } })));
    // Away from the edges (where the input starts/stops) the level is exact.
    let worst = 0;
    for (let i = 200; i < 4000; i++) worst = max(worst, abs(out[i] - 10_000));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('anti-aliases when downsampling (48 kHz stereo → 8 kHz mono)', async () => {
    const low = generateTone({ frequency: 1000, durationMs: 500, amplitude: 0.4 });
    const high = generateTone({ frequency: 6000, durationMs: 500, amplitude: 0.4 }); // above 4 kHz: would alias to 2 kHz
    const sum = Buffer.alloc(low.length);
    for (let i = 0; i < low.length; i += 2) sum.writeInt16LE(low.readInt16LE(i) + high.readInt16LE(i), i);
    const frames = await run([sum], { from: { sampleRate: 48_000, channels: 2 }, to: { sampleRate: 8000, channels: 1 } });
    for (const f of frames) expect(f.length).toBe(320); // 20 ms of 8 kHz mono
    expect(frames).toHaveLength(25);
    const out = Buffer.concat(frames);
    const format = { sampleRate: 8000, channels: 1 };
    expect(abs(dominantFrequency(out, format) - 1000)).toBeLessThan(2);
    expect(frequencyPower(out, 2000, format)).toBeLessThan(1e-5 * frequencyPower(out, 1000, format));
  });

  it('rejects unsupported formats synchronously with INVALID_ARGUMENT', () => {
    const bad: unknown[] = [
      { from: { sampleRate: 0, channels: 1 } },
      { from: { sampleRate: 44_100.5, channels: 1 } },
      { from: { sampleRate: 44_100, channels: 3 } },
      { from: { sampleRate: 44_100, channels: 1 }, to: { sampleRate: 11_025, channels: 2 } },
      {},
    ];
    for (const options of bad) {
      expect(() => resample(options as ResampleOptions)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
      expect(() => resample(options as ResampleOptions)).toThrow(RxVoiceError);
    }
  });
});
