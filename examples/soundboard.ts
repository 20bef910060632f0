/**
 * A soundboard: button presses (here, a timer) queue short sounds that play one after
 * another on the same connection. Each press is an observable of PCM frames; `concatMap`
 * plays them in order into one `voiceSink`, which sends silence frames and turns SPEAKING
 * off when the queue is done.
 *
 *   npx ts-node examples/soundboard.ts
 */
import { concatMap, lastValueFrom, Subject } from 'rxjs';
import { opusEncode, toneSource, voiceSink } from '../src';
import { dominantFrequency } from '../src/testing';
import { localChannel } from './lib/localChannel';

const SOUNDS: Record<string, { frequency: number; durationMs: number }> = {
  ding: { frequency: 1320, durationMs: 300 },
  boop: { frequency: 330, durationMs: 400 },
  beep: { frequency: 880, durationMs: 200 },
};

async function main(): Promise<void> {
  const { server, conn, close } = await localChannel('soundboard-bot');
  const presses = new Subject<string>();
  const done = lastValueFrom(
    presses.pipe(
      concatMap((name) => toneSource({ ...SOUNDS[name], amplitude: 0.5 })),
      opusEncode(),
      voiceSink(conn),
    ),
  );
  for (const name of ['ding', 'boop', 'beep']) {
    presses.next(name);
    await new Promise((r) => setTimeout(r, 150));
  }
  presses.complete();
  const last = await done;
  await new Promise((r) => setTimeout(r, 100));
  const pcm = server.receivedFrom('soundboard-bot')!.pcm;
  const at = (ms: number, len: number) => dominantFrequency(pcm.subarray(ms * 192, (ms + len) * 192));
  console.log(`played ${last.positionMs} ms: ${at(50, 200).toFixed(0)} Hz, then ${at(350, 300).toFixed(0)} Hz, then ${at(720, 150).toFixed(0)} Hz`);
  await close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
