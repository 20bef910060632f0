/**
 * Mixing: music plus a second source (a voice-over, a metronome…) into one stream.
 * `mix(...sources)` sums PCM frame by frame with soft clipping and keeps each source's
 * read-ahead bounded.
 *
 *   npx ts-node examples/mixing.ts [music file]
 */
import * as path from 'node:path';
import { lastValueFrom } from 'rxjs';
import { ffmpegSource, mix, opusEncode, toneSource, voiceSink, volume } from '../src';
import { frequencyPower } from '../src/testing';
import { localChannel } from './lib/localChannel';

async function main(): Promise<void> {
  const file = process.argv[2] ?? path.join(__dirname, 'assets', 'speech.mp3');
  const { server, conn, close } = await localChannel('mixer-bot');
  const voice$ = ffmpegSource(file, { args: ['-t', '3'] }); // the first 3 s
  const bed$ = toneSource({ frequency: 110, durationMs: 3000, amplitude: 0.3 }).pipe(volume(0.5));
  const last = await lastValueFrom(mix(voice$, bed$).pipe(opusEncode(), voiceSink(conn)));
  await new Promise((r) => setTimeout(r, 100));
  const r = server.receivedFrom('mixer-bot')!;
  console.log(`played ${last.positionMs} ms; the emulator heard ${r.durationMs} ms with the 110 Hz bed at power ${frequencyPower(r.pcm, 110).toExponential(2)}`);
  await close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
