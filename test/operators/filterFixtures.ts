import { from, lastValueFrom, toArray, type MonoTypeOperatorFunction, type Observable } from 'rxjs';
import { PCM_FRAME_BYTES, SAMPLE_RATE } from '../../src/core/audioFormat';
import type { PcmFrame } from '../../src/core/audioFormat';
import { toneSource } from '../../src/sources/toneSource';
import { frequencyPower } from '../../src/testing';

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { sin, round, PI, log10, sqrt, abs, max } = Math;

/** A centre-panned sine (both channels equal) as PCM frames, from `toneSource`. */
export async function centerTone(frequency: number, durationMs: number, amplitude = 0.25): Promise<PcmFrame[]> {
  return lastValueFrom(toneSource({ frequency, durationMs, amplitude }).pipe(toArray()));
}

/** Stereo PCM from per-channel sample functions (values in ±1), cut into 20 ms frames. */
export function stereo(durationMs: number, left: (n: number) => number, right: (n: number) => number): PcmFrame[] {
  const total = round((durationMs * SAMPLE_RATE) / 1000);
  const pcm = Buffer.alloc(total * 4);
  for (let n = 0; n < total; n++) {
    pcm.writeInt16LE(clip16(left(n) * 32767), 4 * n);
    pcm.writeInt16LE(clip16(right(n) * 32767), 4 * n + 2);
  }
  return frames(pcm);
}

/** A sine as a function of the sample index. */
export const sine =
  (frequency: number, amplitude: number, phase = 0) =>
  (n: number): number =>
    amplitude * sin((2 * PI * frequency * n) / SAMPLE_RATE + phase);

export const silence = (): number => 0;

function clip16(v: number): number {
  const r = round(v);
  return r > 32767 ? 32767 : r < -32768 ? -32768 : r;
}

/** PCM cut into 3840-byte frames (the last zero-padded). */
export function frames(pcm: Buffer): PcmFrame[] {
  const out: PcmFrame[] = [];
  for (let offset = 0; offset < pcm.length; offset += PCM_FRAME_BYTES) {
    const frame = Buffer.alloc(PCM_FRAME_BYTES);
    pcm.copy(frame, 0, offset, offset + PCM_FRAME_BYTES);
    out.push(frame);
  }
  return out;
}

/** Runs frames through an operator synchronously and joins the output. */
export async function run(input: PcmFrame[] | Observable<PcmFrame>, op: MonoTypeOperatorFunction<PcmFrame>): Promise<Buffer> {
  const source = Array.isArray(input) ? from(input) : input;
  return Buffer.concat(await lastValueFrom(source.pipe(op, toArray())));
}

/** Samples of one channel (0 = left, 1 = right) as numbers. */
export function channel(pcm: Buffer, ch: 0 | 1): Int16Array {
  const n = pcm.length >> 2;
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = pcm.readInt16LE(4 * i + 2 * ch);
  return out;
}

/** One channel as 16-bit stereo PCM with that channel in both (for the mono analysis helpers). */
export function channelAsPcm(pcm: Buffer, ch: 0 | 1): Buffer {
  const n = pcm.length >> 2;
  const out = Buffer.alloc(n * 4);
  for (let i = 0; i < n; i++) {
    const v = pcm.readInt16LE(4 * i + 2 * ch);
    out.writeInt16LE(v, 4 * i);
    out.writeInt16LE(v, 4 * i + 2);
  }
  return out;
}

/** Amplitude (fraction of full scale) of the `hz` component of one channel. */
export function amplitudeAt(pcm: Buffer, hz: number, ch?: 0 | 1): number {
  return sqrt(2 * frequencyPower(ch === undefined ? pcm : channelAsPcm(pcm, ch), hz));
}

/** Part of PCM from `startMs` to `endMs` (sample pairs, 48 kHz stereo). */
export function slice(pcm: Buffer, startMs: number, endMs = pcm.length / 192): Buffer {
  return pcm.subarray(round(startMs * 48) * 4, round(endMs * 48) * 4);
}

export const db = (ratio: number): number => 20 * log10(ratio);

/** Largest |x[n] − x[n−1]| of one channel within samples [from, to). */
export function maxStep(samples: Int16Array, fromIndex = 1, toIndex = samples.length): number {
  let m = 0;
  for (let i = Math.max(1, fromIndex); i < toIndex; i++) m = max(m, abs(samples[i] - samples[i - 1]));
  return m;
}

/** Peak |x| of samples [from, to). */
export function peakOf(samples: Int16Array, fromIndex = 0, toIndex = samples.length): number {
  let m = 0;
  for (let i = fromIndex; i < toIndex; i++) m = max(m, abs(samples[i]));
  return m;
}
