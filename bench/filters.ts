/**
 * Filter costs: CPU µs per 20 ms PCM frame (960 stereo samples) of every filter operator,
 * and of Lavalink's full chain (`filters()` with all ten filters on), run in a child process
 * by `bench/run.ts` (scenario `filters`).
 *
 * Each operator is subscribed once behind a `Subject`, and 5 s of a stereo music-like
 * signal (a chord with a swell, different in each channel, plus noise) is pushed through it
 * frame by frame, over and over: warm-up, then rounds of frames timed with the process's CPU
 * time (`process.cpuUsage`); the best round counts (least disturbed by other processes), and
 * the whole list is measured twice, keeping each operator's lower figure.
 * What is timed is what a player pays: the operator's work per input frame, including the
 * s16le ↔ float conversions and the emitted `Buffer`s.
 *
 * Usage: node filters.js → one JSON line on stdout. `BENCH_QUICK=1`: fewer rounds.
 */
import { Subject, type MonoTypeOperatorFunction } from 'rxjs';
import type { PcmFrame } from '../src/core/audioFormat';
import {
  channelMix,
  compressor,
  distortion,
  equalizer,
  filters,
  highPass,
  karaoke,
  loudnessNormalize,
  lowPass,
  rotation,
  timescale,
  tremolo,
  vibrato,
  volume,
  type FiltersConfig,
} from '../src/operators';

const QUICK = process.env.BENCH_QUICK === '1';

/** 5 s of stereo "music": a chord with a slow swell (channels detuned), plus noise, peaking near −6 dBFS. */
function music(seconds: number): PcmFrame[] {
  const pairs = seconds * 48000;
  const pcm = Buffer.alloc(pairs * 4);
  let seed = 1;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff - 0.5;
  };
  const chord = [110, 220, 277.2, 329.6, 440, 659.3, 1318.5, 2637];
  for (let n = 0; n < pairs; n++) {
    const t = n / 48000;
    const swell = 0.6 + 0.4 * Math.sin(2 * Math.PI * 0.5 * t);
    let l = 0;
    let r = 0;
    chord.forEach((hz, i) => {
      const a = 0.1 / (1 + i * 0.3);
      l += a * Math.sin(2 * Math.PI * hz * t);
      r += a * Math.sin(2 * Math.PI * hz * 1.002 * t + i);
    });
    pcm.writeInt16LE(Math.round(16000 * (swell * l + 0.03 * noise())), 4 * n);
    pcm.writeInt16LE(Math.round(16000 * (swell * r + 0.03 * noise())), 4 * n + 2);
  }
  const frames: PcmFrame[] = [];
  for (let i = 0; i < pcm.length; i += 3840) frames.push(pcm.subarray(i, i + 3840));
  return frames;
}

const INPUT = music(5);

/** CPU µs per input frame of `op`, best of the rounds. */
function cost(op: MonoTypeOperatorFunction<PcmFrame>, onFrame?: (i: number) => void): number {
  const input = new Subject<PcmFrame>();
  let bytes = 0;
  const sub = input.pipe(op).subscribe((f) => (bytes += f.length));
  let i = 0;
  const push = (count: number): void => {
    for (let k = 0; k < count; k++, i++) {
      onFrame?.(i);
      input.next(INPUT[i % INPUT.length]);
    }
  };
  push(QUICK ? 100 : 500); // warm-up: JIT
  const perRound = QUICK ? 100 : 500;
  let best = Infinity;
  for (let round = 0; round < (QUICK ? 2 : 7); round++) {
    const c0 = process.cpuUsage();
    push(perRound);
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / perRound);
  }
  sub.unsubscribe();
  if (bytes === 0) throw new Error('no output');
  return Math.round(best * 100) / 100;
}

/** Lavalink's ten, all on (typical "preset" values; a 15-band bass-boost curve). */
const FULL_CHAIN: FiltersConfig = {
  volume: 0.8,
  equalizer: [0.2, 0.15, 0.1, 0.05, 0.02, -0.02, -0.05, -0.05, -0.03, 0.02, 0.05, 0.08, 0.1, 0.08, 0.05].map((gain, band) => ({ band, gain })),
  karaoke: { level: 1, monoLevel: 1, filterBand: 220, filterWidth: 100 },
  timescale: { speed: 1.1, pitch: 1.1, rate: 1 },
  tremolo: { frequency: 4, depth: 0.5 },
  vibrato: { frequency: 5, depth: 0.5 },
  rotation: { rotationHz: 0.2 },
  distortion: { sinOffset: 0, sinScale: 0.8, cosOffset: 0, cosScale: 0.8, tanOffset: 0, tanScale: 0.8, offset: 0, scale: 1.6 },
  channelMix: { leftToLeft: 0.75, leftToRight: 0.25, rightToLeft: 0.25, rightToRight: 0.75 },
  lowPass: { smoothing: 20 },
};

/** Every single-filter operator, with the settings of the full chain. */
function measureAll(add: (filter: string, settings: unknown, op: MonoTypeOperatorFunction<PcmFrame>) => void): void {
  add('volume (operator, linear)', 0.8, volume(0.8));
  add('volume (Lavalink, filters())', { volume: 0.8 }, filters({ volume: 0.8 }));
  add('equalizer (15 bands on)', FULL_CHAIN.equalizer, equalizer(FULL_CHAIN.equalizer!));
  add('equalizer (1 band on)', [{ band: 0, gain: 0.25 }], equalizer([{ band: 0, gain: 0.25 }]));
  add('karaoke', FULL_CHAIN.karaoke, karaoke(FULL_CHAIN.karaoke!));
  add('timescale', FULL_CHAIN.timescale, timescale(FULL_CHAIN.timescale!));
  add('tremolo', FULL_CHAIN.tremolo, tremolo(FULL_CHAIN.tremolo!));
  add('vibrato', FULL_CHAIN.vibrato, vibrato(FULL_CHAIN.vibrato!));
  add('rotation', FULL_CHAIN.rotation, rotation(FULL_CHAIN.rotation!));
  add('distortion', FULL_CHAIN.distortion, distortion(FULL_CHAIN.distortion!));
  add('channelMix', FULL_CHAIN.channelMix, channelMix(FULL_CHAIN.channelMix!));
  add('lowPass', FULL_CHAIN.lowPass, lowPass(FULL_CHAIN.lowPass!));
  add('highPass', { cutoffHz: 80 }, highPass({ cutoffHz: 80 }));
  add('compressor', { threshold: -18, ratio: 4, attack: 10, release: 100 }, compressor({ threshold: -18, ratio: 4, attack: 10, release: 100 }));
  add('loudnessNormalize', { targetLufs: -14 }, loudnessNormalize({ targetLufs: -14 }));
}

function main(): void {
  const perFilter: Array<{ filter: string; settings: string; usPerFrame: number }> = [];
  // Each operator is measured in two passes over the whole list (a fresh subscription each
  // time), keeping the lower figure: the first measurements of a process pay for JIT warm-up
  // and GC heap growth that later ones do not.
  const add = (filter: string, settings: unknown, op: MonoTypeOperatorFunction<PcmFrame>): void => {
    const entry = perFilter.find((f) => f.filter === filter);
    const us = cost(op);
    if (entry) entry.usPerFrame = Math.min(entry.usPerFrame, us);
    else perFilter.push({ filter, settings: JSON.stringify(settings), usPerFrame: us });
  };
  for (let pass = 0; pass < 2; pass++) measureAll(add);
  const fullChain = Math.min(cost(filters(FULL_CHAIN)), cost(filters(FULL_CHAIN)));
  const withoutTimescale = Math.min(cost(filters({ ...FULL_CHAIN, timescale: null })), cost(filters({ ...FULL_CHAIN, timescale: null })));
  // Worst case for live changes: a new config every frame, so every stage crossfades (runs twice) every frame.
  const config$ = new Subject<FiltersConfig>();
  const alternate = [FULL_CHAIN, { ...FULL_CHAIN, volume: 0.7, tremolo: { frequency: 5, depth: 0.4 }, equalizer: FULL_CHAIN.equalizer!.map((b) => ({ ...b, gain: b.gain / 2 })) }];
  const changingEveryFrame = cost(filters(config$), (i) => config$.next(alternate[i & 1]));
  process.stdout.write(
    `${JSON.stringify({
      frameMs: 20,
      perFilter,
      fullChain: { settings: FULL_CHAIN, usPerFrame: fullChain, withoutTimescaleUsPerFrame: withoutTimescale, changingEveryFrameUsPerFrame: changingEveryFrame },
      targetUsPerFrame: 300,
    })}\n`,
  );
}

main();
