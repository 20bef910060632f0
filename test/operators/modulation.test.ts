import { Subject } from 'rxjs';
import { InvalidFilterError } from '../../src/operators/InvalidFilterError';
import { rotation } from '../../src/operators/rotation';
import { tremolo, type TremoloParams } from '../../src/operators/tremolo';
import { vibrato } from '../../src/operators/vibrato';
import { dominantFrequency } from '../../src/testing';
import { centerTone, channel, maxStep, peakOf, run, slice } from './filterFixtures';

/** Envelope of one channel: the peak of every `windowMs` window. */
function envelope(samples: Int16Array, windowMs: number): number[] {
  const w = windowMs * 48;
  const out: number[] = [];
  for (let i = 0; i + w <= samples.length; i += w) out.push(peakOf(samples, i, i + w));
  return out;
}

/** Times (in windows) where `x − mean` crosses zero upwards, linearly interpolated. */
function upCrossings(x: number[]): number[] {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const out: number[] = [];
  for (let i = 1; i < x.length; i++) {
    const a = x[i - 1] - mean;
    const b = x[i] - mean;
    if (a < 0 && b >= 0) out.push(i - 1 + a / (a - b));
  }
  return out;
}

describe('tremolo', () => {
  it('depth 0.5 at 4 Hz: the envelope swings by 0.5 (±0.05) at 4 Hz (±0.2)', async () => {
    // 1 kHz: every 1 ms window holds one full period, so its peak is the envelope.
    const out = await run(await centerTone(1000, 2000, 0.5), tremolo({ frequency: 4, depth: 0.5 }));
    const env = envelope(channel(out, 0), 1);
    const max = Math.max(...env);
    const min = Math.min(...env);
    // Modulation depth as Lavalink defines it: the gain goes from 1 − depth to 1.
    expect(Math.abs((max - min) / max - 0.5)).toBeLessThanOrEqual(0.05);
    const ups = upCrossings(env);
    const periodMs = (ups[ups.length - 1] - ups[0]) / (ups.length - 1);
    expect(Math.abs(1000 / periodMs - 4)).toBeLessThanOrEqual(0.2);
    // Both channels alike.
    expect(Buffer.from(channel(out, 1).buffer).equals(Buffer.from(channel(out, 0).buffer))).toBe(true);
  });

  it('rejects depth outside 0 … 1 and frequency ≤ 0 (unless off), naming the field', () => {
    expect(() => tremolo({ depth: 1.5 })).toThrow(expect.objectContaining({ field: 'tremolo.depth' }));
    expect(() => tremolo({ frequency: 0 })).toThrow(expect.objectContaining({ field: 'tremolo.frequency' }));
    expect(() => tremolo({ frequency: 0, depth: 0 })).not.toThrow();
    expect(() => tremolo({ frequency: Number.NaN })).toThrow(InvalidFilterError);
  });

  it('a live depth change ramps over one frame (no step beyond the signal’s own)', async () => {
    const tone = await centerTone(997, 600, 0.5);
    const params = new Subject<TremoloParams>();
    const input = new Subject<Buffer>();
    const frames: Buffer[] = [];
    input.pipe(tremolo(params)).subscribe((f) => frames.push(f));
    params.next({ frequency: 3, depth: 0 });
    tone.forEach((f, i) => {
      if (i === 10) params.next({ frequency: 3, depth: 1 });
      if (i === 20) params.next({ frequency: 6, depth: 0.3 });
      input.next(f);
    });
    const left = channel(Buffer.concat(frames), 0);
    expect(maxStep(left)).toBeLessThanOrEqual(maxStep(channel(Buffer.concat(tone), 0)) + 1);
    // Frames before the first change pass through untouched (depth 0 is off).
    expect(frames[5]).toBe(tone[5]);
  });
});

describe('rotation', () => {
  it('0.2 Hz: left and right energy alternate with a 5 s period', async () => {
    const out = await run(await centerTone(500, 10_500, 0.5), rotation({ rotationHz: 0.2 }));
    // Balance per 50 ms: (E_L − E_R) / (E_L + E_R).
    const left = channel(out, 0);
    const right = channel(out, 1);
    const balance: number[] = [];
    for (let i = 0; i + 2400 <= left.length; i += 2400) {
      let el = 0;
      let er = 0;
      for (let k = i; k < i + 2400; k++) {
        el += left[k] * left[k];
        er += right[k] * right[k];
      }
      balance.push((el - er) / (el + er));
    }
    expect(Math.max(...balance)).toBeGreaterThan(0.95); // all left
    expect(Math.min(...balance)).toBeLessThan(-0.95); // all right
    const ups = upCrossings(balance).map((w) => w * 0.05);
    expect(ups.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < ups.length; i++) expect(Math.abs(ups[i] - ups[i - 1] - 5)).toBeLessThanOrEqual(0.1);
    // Left is loudest a quarter turn in (1.25 s), right three quarters in (3.75 s).
    const at = (s: number) => balance[Math.round(s / 0.05)];
    expect(at(1.25)).toBeGreaterThan(0.95);
    expect(at(3.75)).toBeLessThan(-0.95);
  });

  it('rotationHz 0 is off: the frames pass through', async () => {
    const tone = await centerTone(440, 100);
    expect((await run(tone, rotation({ rotationHz: 0 }))).equals(Buffer.concat(tone))).toBe(true);
    expect(() => rotation({ rotationHz: Infinity })).toThrow(expect.objectContaining({ field: 'rotation.rotationHz' }));
  });
});

describe('vibrato', () => {
  it('modulates the pitch around the tone at the vibrato rate, keeping the level', async () => {
    const tone = await centerTone(1000, 2000, 0.5);
    const out = await run(tone, vibrato({ frequency: 4, depth: 1 }));
    const left = channel(out, 0);
    // Instantaneous frequency per 25 ms window: it should swing around 1 kHz.
    const pitches: number[] = [];
    for (let t = 100; t + 25 <= 2000; t += 25) pitches.push(dominantFrequency(slice(out, t, t + 25), { minHz: 800, maxHz: 1200 }));
    const high = Math.max(...pitches);
    const low = Math.min(...pitches);
    // Peak delay slope: 96 samples · π · 4 Hz / 48000 ≈ 2.5 % → ±25 Hz (window averaging lowers it).
    expect(high - 1000).toBeGreaterThan(10);
    expect(1000 - low).toBeGreaterThan(10);
    expect(high - 1000).toBeLessThan(40);
    expect(1000 - low).toBeLessThan(40);
    // Level unchanged (interpolation only): within 0.5 dB.
    expect(peakOf(left, 4800) / peakOf(channel(Buffer.concat(tone), 0))).toBeGreaterThan(0.94);
    expect(() => vibrato({ frequency: 15 })).toThrow(expect.objectContaining({ field: 'vibrato.frequency' }));
  });
});
