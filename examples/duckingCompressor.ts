/**
 * A custom operator: a ducking compressor that lowers music while someone in the channel
 * speaks. It is a plain RxJS `OperatorFunction<PcmFrame, PcmFrame>` built from rxvoice's
 * pieces: `conn.speakers$` → `detectSpeaking()` gives who speaks, that becomes a gain
 * observable, and `volume(gain$)` applies it with per-frame ramps (no clicks).
 * Export it and use it as `music$.pipe(duckWhileSpeaking(conn), opusEncode(), voiceSink(conn, { leadMs: 60 }))`.
 *
 *   npx ts-node examples/duckingCompressor.ts
 */
import { distinctUntilChanged, lastValueFrom, map, mergeMap, scan, startWith, type OperatorFunction } from 'rxjs';
import { detectSpeaking, opusEncode, toneSource, voiceSink, volume, type PcmFrame, type VoiceConnection } from '../src';
import { frequencyPower } from '../src/testing';
import { localChannel } from './lib/localChannel';

/** Lowers the stream to `duckedGain` while anyone else speaks, back to 1 after the hangover. */
export function duckWhileSpeaking(conn: VoiceConnection, duckedGain = 0.2): OperatorFunction<PcmFrame, PcmFrame> {
  const speakingCount$ = conn.speakers$.pipe(
    mergeMap((s) => s.packets$.pipe(detectSpeaking({ hangoverMs: 200 }), map((c) => (c.speaking ? 1 : -1)))),
    scan((n, d) => Math.max(0, n + d), 0),
    startWith(0),
  );
  const gain$ = speakingCount$.pipe(
    map((n) => (n > 0 ? duckedGain : 1)),
    distinctUntilChanged(),
  );
  return (music$) => music$.pipe(volume(gain$));
}

async function main(): Promise<void> {
  const { server, conn, close } = await localChannel('dj-bot');
  const music$ = toneSource({ frequency: 330, durationMs: 3000, amplitude: 0.6 });
  // volume(gain$) acts on frames as they are read, up to `leadMs` ahead of playback:
  // a short lead makes the ducking follow the talker closely.
  const played = lastValueFrom(music$.pipe(duckWhileSpeaking(conn), opusEncode(), voiceSink(conn, { leadMs: 60 })));
  // Someone talks over the music from ~1.0 s to ~2.0 s.
  await new Promise((r) => setTimeout(r, 900));
  await server.speakAs({ userId: 'talker', ssrc: 777, source: { tone: { frequency: 880, durationMs: 1000 } } });
  await played;
  await new Promise((r) => setTimeout(r, 100));
  const pcm = server.receivedFrom('dj-bot')!.pcm;
  const second = (i: number) => pcm.subarray(i * 192000, (i + 1) * 192000);
  const level = [0, 1, 2].map((i) => Math.sqrt(frequencyPower(second(i), 330)));
  console.log(`music level per second: ${level.map((l) => l.toFixed(3)).join(' → ')} (ducked in the middle)`);
  await close();
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
