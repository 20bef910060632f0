import { Subject } from 'rxjs';
import { channelMix, type ChannelMixParams } from '../../src/operators/channelMix';
import { distortion } from '../../src/operators/distortion';
import { highPass } from '../../src/operators/highPass';
import { karaoke } from '../../src/operators/karaoke';
import { lowPass } from '../../src/operators/lowPass';
import { amplitudeAt, centerTone, channel, db, run, silence, sine, slice, stereo } from './filterFixtures';

describe('channelMix', () => {
  it('swap exchanges a left-only and a right-only tone', async () => {
    const input = stereo(500, sine(440, 0.4), sine(660, 0.4));
    const out = await run(input, channelMix({ leftToLeft: 0, leftToRight: 1, rightToLeft: 1, rightToRight: 0 }));
    const inPcm = Buffer.concat(input);
    // The 660 Hz tone is now on the left at its level, the 440 Hz on the right, and nothing stayed behind.
    expect(amplitudeAt(out, 660, 0)).toBeCloseTo(amplitudeAt(inPcm, 660, 1), 3);
    expect(amplitudeAt(out, 440, 1)).toBeCloseTo(amplitudeAt(inPcm, 440, 0), 3);
    expect(amplitudeAt(out, 440, 0)).toBeLessThan(1e-3);
    expect(amplitudeAt(out, 660, 1)).toBeLessThan(1e-3);
    // Sample-exact swap.
    expect(Buffer.from(channel(out, 0).buffer).equals(Buffer.from(channel(inPcm, 1).buffer))).toBe(true);
  });

  it('all 0.5 makes mono; factors outside 0 … 1 are rejected by name', async () => {
    const out = await run(stereo(100, sine(440, 0.4), silence), channelMix({ leftToLeft: 0.5, leftToRight: 0.5, rightToLeft: 0.5, rightToRight: 0.5 }));
    expect(Buffer.from(channel(out, 0).buffer).equals(Buffer.from(channel(out, 1).buffer))).toBe(true);
    expect(() => channelMix({ rightToLeft: 1.5 })).toThrow(expect.objectContaining({ code: 'INVALID_FILTER', field: 'channelMix.rightToLeft' }));
  });
});

describe('live parameters (any filter, shown on channelMix)', () => {
  it('a new value crossfades across the next frame and is fully in force from the frame after', async () => {
    const input = stereo(200, sine(440, 0.4), sine(660, 0.4));
    const params = new Subject<ChannelMixParams>();
    const frames$ = new Subject<Buffer>();
    const out: Buffer[] = [];
    frames$.pipe(channelMix(params)).subscribe((f) => out.push(f));
    const swap = { leftToLeft: 0, leftToRight: 1, rightToLeft: 1, rightToRight: 0 };
    input.forEach((f, i) => {
      if (i === 4) params.next(swap);
      frames$.next(f);
    });
    // Before: untouched (identity). After: exactly swapped, from frame 5 on.
    expect(out[3]).toBe(input[3]);
    for (let i = 5; i < input.length; i++) expect(Buffer.from(channel(out[i], 0).buffer).equals(Buffer.from(channel(input[i], 1).buffer))).toBe(true);
    // Frame 4: a linear crossfade, sample k of 960 at weight (k + 1)/960 for the new output.
    const l = channel(input[4], 0);
    const r = channel(input[4], 1);
    const y = channel(out[4], 0);
    for (const k of [0, 100, 479, 800, 959]) {
      const w = (k + 1) / 960;
      expect(Math.abs(y[k] - ((1 - w) * l[k] + w * r[k]))).toBeLessThanOrEqual(1);
    }
  });
});

describe('karaoke', () => {
  it('a centre-panned 1 kHz tone drops by ≥ 15 dB while a left-only 660 Hz tone stays within 3 dB', async () => {
    const input = stereo(600, (n) => sine(1000, 0.3)(n) + sine(660, 0.3)(n), sine(1000, 0.3));
    const out = await run(input, karaoke({ level: 1, monoLevel: 1, filterBand: 220, filterWidth: 100 }));
    const inPcm = Buffer.concat(input);
    const steady = (pcm: Buffer) => slice(pcm, 100);
    // The centre tone: summed over both channels.
    const centreDrop = db(amplitudeAt(steady(out), 1000) / amplitudeAt(steady(inPcm), 1000));
    expect(centreDrop).toBeLessThanOrEqual(-15);
    // The left-only tone on its own side.
    const sideChange = db(amplitudeAt(steady(out), 660, 0) / amplitudeAt(steady(inPcm), 660, 0));
    expect(Math.abs(sideChange)).toBeLessThanOrEqual(3);
  });

  it('keeps the mono band around filterBand (a centred 220 Hz tone survives)', async () => {
    const tone = await centerTone(220, 600, 0.3);
    const out = await run(tone, karaoke({}));
    expect(Math.abs(db(amplitudeAt(slice(out, 200), 220) / amplitudeAt(slice(Buffer.concat(tone), 200), 220)))).toBeLessThan(1);
  });
});

describe('distortion', () => {
  it('applies Lavalink’s sin·cos·tan waveshaper sample by sample', async () => {
    const params = { sinOffset: 0.1, sinScale: 2, cosOffset: 0.2, cosScale: 0.5, tanOffset: 0.3, tanScale: 0.7, offset: 0.05, scale: 1.5 };
    const input = stereo(40, sine(300, 0.8), sine(500, -0.6));
    const out = await run(input, distortion(params));
    const x = channel(Buffer.concat(input), 0);
    const y = channel(out, 0);
    for (const i of [0, 17, 100, 555, 1919]) {
      const s = x[i] / 32768;
      const expected =
        params.offset +
        params.scale * (params.sinOffset + Math.sin(s * params.sinScale)) * (params.cosOffset + Math.cos(s * params.cosScale)) * (params.tanOffset + Math.tan(s * params.tanScale));
      expect(Math.abs(y[i] - Math.round(Math.max(-1, Math.min(1, expected)) * 32768))).toBeLessThanOrEqual(1);
    }
  });

  it('all defaults is off (as Lavalink leaves it out)', async () => {
    const tone = await centerTone(440, 60);
    expect((await run(tone, distortion({}))).equals(Buffer.concat(tone))).toBe(true);
  });
});

describe('lowPass', () => {
  it('smoothing 20 attenuates 5 kHz by ≥ 20 dB relative to 200 Hz', async () => {
    const gainAt = async (hz: number) => {
      const tone = await centerTone(hz, 400, 0.4);
      const out = await run(tone, lowPass({ smoothing: 20 }));
      return amplitudeAt(slice(out, 100), hz) / amplitudeAt(slice(Buffer.concat(tone), 100), hz);
    };
    const g200 = await gainAt(200);
    const g5k = await gainAt(5000);
    expect(db(g200) - db(g5k)).toBeGreaterThanOrEqual(20);
    // The one-pole response itself: |α / (1 − (1 − α)e^(−jω))| with α = 1/20.
    const expected = (hz: number) => {
      const w = (2 * Math.PI * hz) / 48000;
      return 0.05 / Math.hypot(1 - 0.95 * Math.cos(w), 0.95 * Math.sin(w));
    };
    expect(g200).toBeCloseTo(expected(200), 2);
    expect(g5k).toBeCloseTo(expected(5000), 2);
  });

  it('smoothing ≤ 1 is off (Lavalink’s rule)', async () => {
    const tone = await centerTone(5000, 60);
    expect((await run(tone, lowPass({ smoothing: 1 }))).equals(Buffer.concat(tone))).toBe(true);
  });
});

describe('highPass', () => {
  it('passes 1 kHz, cuts 50 Hz (−3 dB at the cut-off)', async () => {
    const gainAt = async (hz: number) => {
      const tone = await centerTone(hz, 600, 0.4);
      const out = await run(tone, highPass({ cutoffHz: 200 }));
      return db(amplitudeAt(slice(out, 200), hz) / amplitudeAt(slice(Buffer.concat(tone), 200), hz));
    };
    expect(Math.abs(await gainAt(1000))).toBeLessThan(0.3);
    expect(Math.abs((await gainAt(200)) + 3)).toBeLessThan(0.3);
    expect(await gainAt(50)).toBeLessThan(-20);
    expect(() => highPass({ cutoffHz: -5 })).toThrow(expect.objectContaining({ field: 'highPass.cutoffHz' }));
  });
});
