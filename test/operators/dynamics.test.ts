import { SAMPLE_RATE } from '../../src/core/audioFormat';
import { LoudnessMeter } from '../../src/dsp/LoudnessMeter';
import { compressor } from '../../src/operators/compressor';
import { readInt16 } from '../../src/operators/internal/pcm16';
import { loudnessNormalize } from '../../src/operators/loudnessNormalize';
import { channel, frames, peakOf, run, sine, slice, stereo } from './filterFixtures';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { sin, round, max, min, cos, PI } = Math;

/** Integrated loudness (BS.1770-4) of s16le stereo PCM. */
function lufs(pcm: Buffer): number {
  const pairs = pcm.length >> 2;
  const int16 = readInt16(pcm);
  const samples = new Float64Array(pairs * 2);
  for (let i = 0; i < pairs * 2; i++) samples[i] = int16[i] / 32768;
  const meter = new LoudnessMeter();
  meter.push(samples, pairs);
  return meter.integrated();
}

/** Float stereo (both channels `f`) of `seconds`. */
function floatStereo(seconds: number, f: (n: number) => number): Float64Array {
  const n = Math.round(seconds * SAMPLE_RATE);
  const out = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) out[2 * i] = out[2 * i + 1] = f(i);
  return out;
}

describe('LoudnessMeter (BS.1770-4 / EBU R128)', () => {
  it('a full-scale 997 Hz sine in both channels reads 0 LUFS; in one channel −3.01 LUFS', () => {
    const meter = new LoudnessMeter();
    const both = floatStereo(2, sine(997, 1));
    meter.push(both, both.length / 2);
    expect(meter.integrated()).toBeCloseTo(0, 1);
    const one = floatStereo(2, sine(997, 1));
    for (let i = 1; i < one.length; i += 2) one[i] = 0;
    const m2 = new LoudnessMeter();
    m2.push(one, one.length / 2);
    expect(Math.abs(m2.integrated() + 3.01)).toBeLessThan(0.1);
  });

  it('EBU Tech 3341 case 3 (gating): 10 s at −36, 60 s at −23, 10 s at −36 dBFS → −23 ± 0.1 LUFS', () => {
    // 1 kHz sine in both channels at the given peak level (a stereo sine at −23 dBFS reads −23 LUFS).
    const meter = new LoudnessMeter();
    const part = (seconds: number, dbfs: number) => floatStereo(seconds, sine(1000, 10 ** (dbfs / 20)));
    for (const [s, level] of [
      [10, -36],
      [60, -23],
      [10, -36],
    ]) {
      const x = part(s, level);
      meter.push(x, x.length / 2);
    }
    expect(Math.abs(meter.integrated() + 23)).toBeLessThanOrEqual(0.1);
  });

  it('reports -Infinity before the first 400 ms block and for silence', () => {
    const meter = new LoudnessMeter();
    const short = floatStereo(0.3, sine(1000, 0.5));
    meter.push(short, short.length / 2);
    expect(meter.integrated()).toBe(-Infinity);
    const quiet = new LoudnessMeter();
    const zeros = new Float64Array(2 * 48000);
    quiet.push(zeros, 48000);
    expect(quiet.integrated()).toBe(-Infinity);
  });
});

describe('loudnessNormalize', () => {
  /** A music-like stereo signal: a chord with a slow swell and noise, scaled to `loudness` LUFS. */
  function track(seconds: number, loudness: number): Buffer[] {
    let seed = 12345;
    const noise = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff - 0.5;
    };
    const pairs = seconds * SAMPLE_RATE;
    const chord = [sine(110, 0.3), sine(277, 0.2), sine(659, 0.15), sine(2500, 0.05)];
    const x = new Float64Array(2 * pairs);
    for (let n = 0; n < pairs; n++) {
      const swell = 0.6 + 0.4 * sin((2 * PI * 0.7 * n) / SAMPLE_RATE);
      let v = 0;
      for (const c of chord) v += c(n);
      x[2 * n] = swell * v + 0.05 * noise();
      x[2 * n + 1] = swell * v + 0.05 * noise();
    }
    const meter = new LoudnessMeter();
    meter.push(x, pairs);
    const scale = 32768 * 10 ** ((loudness - meter.integrated()) / 20);
    const pcm = Buffer.alloc(4 * pairs);
    const out = readInt16(pcm);
    for (let i = 0; i < 2 * pairs; i++) out[i] = max(-32768, min(32767, round(x[i] * scale)));
    return frames(pcm);
  }

  it.each([
    [-30, -14],
    [-10, -14],
    [-30, -18],
  ])('brings a %d LUFS track to %d LUFS ± 1 LU once converged', async (input, target) => {
    const t = track(6, input);
    expect(Math.abs(lufs(Buffer.concat(t)) - input)).toBeLessThan(0.05);
    const out = await run(t, loudnessNormalize({ targetLufs: target }));
    expect(Math.abs(lufs(slice(out, 3000)) - target)).toBeLessThanOrEqual(1);
  });

  it('never adds more than maxGainDb', async () => {
    const out = await run(track(4, -40), loudnessNormalize({ targetLufs: -14, maxGainDb: 10 }));
    expect(Math.abs(lufs(slice(out, 3000)) - -30)).toBeLessThanOrEqual(0.5);
  });
});

describe('compressor', () => {
  it('limiter: a 0 dBFS burst after a −30 dBFS passage is under the threshold once the attack time has passed', async () => {
    const threshold = -20;
    const attackMs = 5;
    // 1 s of 1 kHz at −30 dBFS, then 300 ms at 0 dBFS starting on a peak (cosine phase).
    const quiet = sine(1000, 10 ** (-30 / 20));
    const loud = (n: number) => 0.99997 * cos((2 * PI * 1000 * (n - 48000)) / SAMPLE_RATE);
    const input = stereo(1300, (n) => (n < 48000 ? quiet(n) : loud(n)), (n) => (n < 48000 ? quiet(n) : loud(n)));
    const out = await run(input, compressor({ threshold, ratio: Infinity, attack: attackMs, release: 100 }));
    const left = channel(out, 0);
    const limit = 32768 * 10 ** (threshold / 20);
    const onset = 48000;
    // The quiet passage is untouched.
    expect(peakOf(left, 0, onset)).toBeLessThanOrEqual(Math.round(32767 * 10 ** (-30 / 20)) + 1);
    // Before the attack time is over the burst still pokes above the threshold …
    expect(peakOf(left, onset, onset + 48)).toBeGreaterThan(limit * 1.5);
    // … from then on it stays under it (±1 LSB of rounding).
    const after = onset + (attackMs * SAMPLE_RATE) / 1000;
    expect(peakOf(left, after)).toBeLessThanOrEqual(limit + 1);
    // And it is not crushed below: the held level sits at the threshold (within 0.2 dB).
    expect(peakOf(left, after + 960)).toBeGreaterThan(limit * 10 ** (-0.2 / 20));
  });

  it('ratio 4: a level 20 dB over the threshold comes out 5 dB over; makeup gain adds on top', async () => {
    const input = stereo(600, sine(500, 1 * 10 ** (-6 / 20)), sine(500, 10 ** (-6 / 20)));
    const out = await run(input, compressor({ threshold: -26, ratio: 4, attack: 2, release: 50, makeupGain: 3 }));
    const level = 20 * Math.log10(peakOf(channel(out, 0), 48 * 300) / 32768);
    // −6 dBFS in: 20 dB over −26 → 5 dB over → −21 dBFS, + 3 dB makeup → −18 dBFS.
    expect(Math.abs(level - -18)).toBeLessThan(0.2);
  });

  it('rejects a ratio below 1, naming the field', () => {
    expect(() => compressor({ ratio: 0.5 })).toThrow(expect.objectContaining({ field: 'compressor.ratio' }));
  });
});
