/**
 * Filters, switched live: the bundled recording plays through `filters(config$)` — Lavalink's
 * filter object as an observable — while the config changes every 2 s: plain, nightcore
 * (timescale up), bass boost (equalizer), 8D (rotation), karaoke (centre cut). Each change
 * takes effect on the next 20 ms frame, crossfaded, so nothing clicks.
 *
 *   npx ts-node examples/filters.ts [file]
 *
 * Then it analyses what the emulator received (decoded from the Opus packets the bot sent)
 * per segment: level, share of bass below ~150 Hz, and how far the left/right balance swings.
 */
import * as path from 'node:path';
import { BehaviorSubject, lastValueFrom, tap } from 'rxjs';
import { ffmpegSource, filters, opusEncode, voiceSink, type FiltersConfig, type PcmFrame } from '../src';
import { localChannel } from './lib/localChannel';

const SEGMENT_MS = 2000;

/** What a music bot's commands would send (Lavalink's JSON; each object replaces the last). */
const PRESETS: Array<[string, FiltersConfig]> = [
  ['plain', {}],
  ['nightcore', { timescale: { speed: 1.25, pitch: 1.25, rate: 1 } }],
  ['bass boost', { equalizer: [0.3, 0.25, 0.2, 0.15, 0.1, 0.05].map((gain, band) => ({ band, gain })) }],
  ['8D', { rotation: { rotationHz: 0.5 } }],
  ['karaoke', { karaoke: { level: 1, monoLevel: 1, filterBand: 220, filterWidth: 100 } }],
];

async function main(): Promise<void> {
  const file = process.argv[2] ?? path.join(__dirname, 'assets', 'speech.mp3');
  const { server, conn, close } = await localChannel('filters-bot');

  const config$ = new BehaviorSubject<FiltersConfig>(PRESETS[0][1]);
  let framesIn = 0;
  let framesOut = 0;
  /** Output frame index at which each preset took over. */
  const starts: number[] = [0];
  const played = lastValueFrom(
    ffmpegSource(file, { args: ['-t', String((PRESETS.length * SEGMENT_MS) / 1000 + 1)] }).pipe(
      tap(() => framesIn++),
      filters(config$, { onError: (err) => console.error(`rejected: ${err.message}`) }),
      tap(() => framesOut++),
      opusEncode(),
      // A short lead: filters act on frames as they are read, at most this far ahead of playback.
      voiceSink(conn, { leadMs: 60 }),
    ),
  );
  for (let i = 1; i < PRESETS.length; i++) {
    await new Promise((r) => setTimeout(r, SEGMENT_MS));
    starts.push(framesOut);
    config$.next(PRESETS[i][1]);
  }
  await played;
  await new Promise((r) => setTimeout(r, 100));
  const heard = server.receivedFrom('filters-bot')!;
  // Nightcore plays 2 s of output from 2.5 s of input (speed 1.25).
  console.log(`played ${framesOut * 20} ms of filtered audio from ${framesIn * 20} ms of input; the emulator heard ${heard.durationMs} ms`);

  starts.push(framesOut);
  for (let i = 0; i < PRESETS.length; i++) {
    // Leave 300 ms at each edge of the segment (the sink's lead, the crossfade, Opus' delay).
    const from = starts[i] * 20 + 300;
    const to = starts[i + 1] * 20 - 300;
    const s = analyse(heard.pcm.subarray(from * 192, to * 192));
    console.log(`${PRESETS[i][0].padEnd(10)}: level ${s.levelDb.toFixed(1)} dBFS, bass ${s.bassDb.toFixed(1)} dB, balance ${s.balanceMin.toFixed(2)} … ${s.balanceMax.toFixed(2)}`);
  }
  await close();
}

/** Level (RMS, dBFS), bass share (energy below ~150 Hz vs all, dB) and left/right balance range (per 100 ms). */
function analyse(pcm: PcmFrame): { levelDb: number; bassDb: number; balanceMin: number; balanceMax: number } {
  const pairs = pcm.length >> 2;
  const a = Math.exp((-2 * Math.PI * 150) / 48000); // one-pole low-pass, twice
  let lp1 = 0;
  let lp2 = 0;
  let all = 0;
  let bass = 0;
  let el = 0;
  let er = 0;
  let balanceMin = Infinity;
  let balanceMax = -Infinity;
  for (let n = 0; n < pairs; n++) {
    const l = pcm.readInt16LE(4 * n) / 32768;
    const r = pcm.readInt16LE(4 * n + 2) / 32768;
    const m = (l + r) / 2;
    lp1 = a * lp1 + (1 - a) * m;
    lp2 = a * lp2 + (1 - a) * lp1;
    all += l * l + r * r;
    bass += lp2 * lp2 * 2;
    el += l * l;
    er += r * r;
    if ((n + 1) % 4800 === 0) {
      if (el + er > 1e-6) {
        const b = (el - er) / (el + er);
        balanceMin = Math.min(balanceMin, b);
        balanceMax = Math.max(balanceMax, b);
      }
      el = 0;
      er = 0;
    }
  }
  return { levelDb: 10 * Math.log10(all / (2 * pairs)), bassDb: 10 * Math.log10(bass / all), balanceMin, balanceMax };
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
