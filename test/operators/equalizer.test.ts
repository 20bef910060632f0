import { BehaviorSubject, from, Subject, toArray } from 'rxjs';
import { Biquad } from '../../src/dsp/Biquad';
import { EQUALIZER_BANDS_HZ, EqualizerKernel } from '../../src/dsp/EqualizerKernel';
import { equalizer, type EqualizerBand } from '../../src/operators/equalizer';
import { InvalidFilterError } from '../../src/operators/InvalidFilterError';
import { amplitudeAt, centerTone, channel, db, maxStep, run, slice } from './filterFixtures';

describe('equalizer', () => {
  it('band 8 (1 kHz) at gain 0.25 doubles a 1 kHz tone (±1 dB)', async () => {
    const tone = await centerTone(1000, 500, 0.25);
    const out = await run(tone, equalizer([{ band: 8, gain: 0.25 }]));
    // Steady state: skip the filter's first 100 ms.
    const ratio = amplitudeAt(slice(out, 100), 1000) / amplitudeAt(slice(Buffer.concat(tone), 100), 1000);
    expect(Math.abs(db(ratio) - db(2))).toBeLessThanOrEqual(1);
    expect(ratio).toBeCloseTo(2, 2);
  });

  it('band 8 at gain -0.25 attenuates a 1 kHz tone by at least 20 dB', async () => {
    const tone = await centerTone(1000, 500, 0.25);
    const out = await run(tone, equalizer([{ band: 8, gain: -0.25 }]));
    const ratio = amplitudeAt(slice(out, 100), 1000) / amplitudeAt(slice(Buffer.concat(tone), 100), 1000);
    expect(db(ratio)).toBeLessThanOrEqual(-20);
  });

  it('a 100 Hz tone stays within ±0.5 dB whatever band 8 does', async () => {
    const tone = await centerTone(100, 600, 0.25);
    const reference = amplitudeAt(slice(Buffer.concat(tone), 200), 100);
    for (const gain of [-0.25, 0.25, 0.5, 1]) {
      const out = await run(tone, equalizer([{ band: 8, gain }]));
      expect(Math.abs(db(amplitudeAt(slice(out, 200), 100) / reference))).toBeLessThanOrEqual(0.5);
    }
  });

  it('acts at every band centre as 1 + 4·gain', async () => {
    for (const band of [0, 3, 11, 14]) {
      const hz = EQUALIZER_BANDS_HZ[band];
      const tone = await centerTone(hz, 1000, 0.2);
      const out = await run(tone, equalizer([{ band, gain: 0.25 }]));
      const ratio = amplitudeAt(slice(out, 500), hz) / amplitudeAt(slice(Buffer.concat(tone), 500), hz);
      expect(Math.abs(db(ratio / 2))).toBeLessThanOrEqual(0.5);
    }
  });

  it('the bank equals x + Σ 4·gain·bandpass(x) computed band by band (all 15 bands, both channels)', () => {
    const gains = [0.2, -0.1, 0.15, 0.05, 0, -0.25, 0.3, 1, -0.05, 0.1, 0.02, -0.2, 0.25, 0.4, -0.15];
    const pairs = 4000;
    const x = new Float64Array(2 * pairs);
    for (let i = 0; i < pairs; i++) {
      x[2 * i] = 0.3 * Math.sin(i * 0.05) + 0.2 * Math.sin(i * 0.9) + 0.1 * Math.sin(i * 0.002);
      x[2 * i + 1] = 0.25 * Math.sin(i * 0.31 + 1) - 0.1 * Math.sin(i * 2.1);
    }
    // Reference: one Biquad per band (transposed direct form, other code), summed.
    const expected = Float64Array.from(x);
    EQUALIZER_BANDS_HZ.forEach((hz, b) => {
      const band = Float64Array.from(x);
      Biquad.bandPass(hz, 2 / 3).process(band, pairs);
      for (let i = 0; i < 2 * pairs; i++) expected[i] += 4 * gains[b] * band[i];
    });
    // The kernel, fed in frames of uneven size (history carried across calls).
    const kernel = new EqualizerKernel(gains);
    const actual = Float64Array.from(x);
    for (let start = 0, size = 1; start < pairs; start += size, size = (size * 7 + 3) % 997 || 1) {
      const count = Math.min(size, pairs - start);
      const part = actual.subarray(2 * start, 2 * (start + count));
      kernel.process(part, count);
    }
    let worst = 0;
    for (let i = 0; i < 2 * pairs; i++) worst = Math.max(worst, Math.abs(actual[i] - Math.max(-1, Math.min(1, expected[i]))));
    expect(worst).toBeLessThan(1e-9);
  });

  it('passes the very same frames through while every gain is 0, and when a plain list is flat', async () => {
    const tone = await centerTone(440, 60);
    const out = await new Promise<Buffer[]>((resolve) => from(tone).pipe(equalizer(new BehaviorSubject<EqualizerBand[]>([{ band: 3, gain: 0 }])), toArray()).subscribe(resolve));
    out.forEach((frame, i) => expect(frame).toBe(tone[i]));
    const op = equalizer([]);
    const out2 = await run(tone, op);
    expect(out2.equals(Buffer.concat(tone))).toBe(true);
  });

  it('throws InvalidFilterError naming the field for an invalid plain list', () => {
    const bad = [{ band: 0, gain: 0 }, { band: 1, gain: 0 }, { band: 2, gain: 0 }, { band: 3, gain: 2 }];
    expect(() => equalizer(bad)).toThrow(InvalidFilterError);
    expect(() => equalizer(bad)).toThrow(/equalizer\[3\]\.gain/);
    try {
      equalizer([{ band: 15, gain: 0.1 }]);
    } catch (err) {
      expect(err).toMatchObject({ code: 'INVALID_FILTER', field: 'equalizer[0].band', value: 15 });
    }
    expect(() => equalizer('loud' as unknown as EqualizerBand[])).toThrow(expect.objectContaining({ field: 'equalizer' }));
  });

  it('errors the stream with InvalidFilterError when the observable emits an invalid list', async () => {
    const bands = new Subject<EqualizerBand[]>();
    const tone = new Subject<Buffer>();
    const error = new Promise<unknown>((resolve) => tone.pipe(equalizer(bands)).subscribe({ error: resolve }));
    bands.next([{ band: 8, gain: 0.1 }]);
    bands.next([{ band: 8, gain: -0.5 }]);
    expect(await error).toMatchObject({ code: 'INVALID_FILTER', field: 'equalizer[0].gain' });
  });

  it('live change: switching settings during playback makes no step larger than the signal has itself', async () => {
    // 997 Hz (not in step with the 20 ms frames) at 0.25 of full scale; settings switch every 8 frames.
    const tone = await centerTone(997, 1600, 0.25);
    const toneSteps = maxStep(channel(Buffer.concat(tone), 0));
    const settings: EqualizerBand[][] = [
      [],
      [{ band: 8, gain: -0.25 }],
      [{ band: 8, gain: -0.2 }, { band: 9, gain: -0.2 }],
      [],
      [{ band: 3, gain: 1 }],
      [{ band: 8, gain: 0.25 }],
      [{ band: 7, gain: 0.25 }, { band: 8, gain: 0.25 }],
      [{ band: 8, gain: -0.25 }],
      [{ band: 8, gain: 0.25 }],
      [],
    ];
    const bands = new Subject<EqualizerBand[]>();
    const frames$ = new Subject<Buffer>();
    const outFrames: Buffer[] = [];
    frames$.pipe(equalizer(bands)).subscribe((f) => outFrames.push(f));
    const switchAt: number[] = [];
    tone.forEach((frame, i) => {
      if (i % 8 === 0 && i / 8 < settings.length) {
        bands.next(settings[i / 8]);
        switchAt.push(i);
      }
      frames$.next(frame);
    });
    const left = channel(Buffer.concat(outFrames), 0);
    const frameSteps = (i: number) => maxStep(left, i * 960, (i + 1) * 960 + 1);
    for (let s = 1; s < switchAt.length; s++) {
      const i = switchAt[s];
      // The signal's own steps with the old settings (the frame before) and the new ones (settled, 6 frames on).
      const own = Math.max(frameSteps(i - 1), frameSteps(i + 6));
      expect(frameSteps(i)).toBeLessThanOrEqual(own + 1);
    }
    // Changes between settings that do not boost 1 kHz (flat → mute → cut → flat) stay within
    // the input tone's own steps.
    for (const s of [1, 2, 3]) expect(frameSteps(switchAt[s])).toBeLessThanOrEqual(toneSteps + 1);
    // Control: switching flat → mute abruptly (at a peak of that frame) would step far more.
    const muted = channel(await run(tone, equalizer([{ band: 8, gain: -0.25 }])), 0);
    const dry = channel(Buffer.concat(tone), 0);
    let at = switchAt[1] * 960;
    for (let i = at; i < at + 960; i++) if (Math.abs(dry[i]) > Math.abs(dry[at])) at = i;
    expect(Math.abs(muted[at + 1] - dry[at])).toBeGreaterThan(5 * toneSteps);
  });
});
