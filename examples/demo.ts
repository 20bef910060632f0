/**
 * `npm run demo [-- <file or URL>]`
 *
 * Starts the embedded voice-server emulator, connects to it like a bot would (voice
 * gateway v8 over TLS, UDP IP discovery, transport encryption), plays a file through the
 * main pipeline — `ffmpegSource(file).pipe(opusEncode(), voiceSink(conn))` — and prints
 * what the emulator received: duration, frames, loss, pacing, decrypt failures, and how
 * close the received audio is to the source (aligned SNR). The received audio is written
 * to `demo-output/received.wav`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, reduce, tap } from 'rxjs';
import { connectVoice } from '../src/gateway';
import { opusEncode } from '../src/operators/opusEncode';
import { voiceSink } from '../src/sinks/voiceSink';
import { ffmpegSource } from '../src/sources';
import { alignedSnr, encodeWav, startVoiceServer } from '../src/testing';

const input = process.argv[2] ?? path.join(__dirname, 'assets', 'speech.mp3');

async function main(): Promise<void> {
  const server = await startVoiceServer({ heartbeatIntervalMs: 5000 });
  const session = { serverId: 'demo-guild', userId: 'demo-bot', sessionId: 'demo-session', token: 'demo-token' };
  server.registerSession(session);
  console.log(`emulator: wss://${server.endpoint} (udp ${server.udpPort})`);

  // What a bot gets from VOICE_STATE_UPDATE / VOICE_SERVER_UPDATE; here the emulator's.
  const conn = connectVoice({
    endpoint: server.endpoint,
    ...session,
    channelId: 'demo-channel',
    dave: false,
    tls: { ca: server.certificate },
  });
  conn.state$.subscribe((s) => console.log(`  connection: ${s.status}`));
  const ready = await conn.ready(10_000);
  console.log(`ready: ssrc ${ready.ssrc}, ${ready.mode}`);

  console.log(`playing ${input}`);
  let line = '';
  const last = await lastValueFrom(
    ffmpegSource(input).pipe(
      opusEncode(),
      voiceSink(conn, { progressEveryMs: 500 }),
      tap((p) => {
        line = `  ${(p.positionMs / 1000).toFixed(1)} s  ${p.status}  sent ${p.framesSent}  late ${p.framesLate}`;
        if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
      }),
    ),
  );
  if (process.stdout.isTTY) process.stdout.write('\n');
  else console.log(line);
  await new Promise((r) => setTimeout(r, 200));

  // The source as PCM, decoded again, to compare with what arrived.
  const reference = await lastValueFrom(ffmpegSource(input).pipe(reduce((acc: Buffer[], f) => (acc.push(f), acc), [])));
  const ref = Buffer.concat(reference);

  const r = server.receivedFrom(session.userId);
  if (!r) throw new Error('the emulator received nothing');
  const snr = alignedSnr(r.pcm, ref, { maxLagMs: 200 });
  console.log('\nwhat the emulator received');
  console.log(`  duration            ${r.durationMs} ms (source ${Math.round((ref.length / 3840) * 20)} ms, sent ${last.positionMs} ms)`);
  console.log(`  frames              ${r.frames} (${r.silenceFrames} silence frames)`);
  console.log(`  loss                ${r.lost} lost, ${r.duplicates} duplicates, ${r.reordered} reordered`);
  console.log(`  decrypt failures    ${r.decryptFailures}, decode failures ${r.decodeFailures}`);
  console.log(`  pacing |Δt − 20 ms| p50 ${r.pacing.p50.toFixed(2)} ms, p99 ${r.pacing.p99.toFixed(2)} ms, max ${r.pacing.max.toFixed(2)} ms`);
  console.log(`  jitter (RFC 3550)   ${r.jitterMs.toFixed(2)} ms`);
  console.log(`  aligned SNR         ${snr.snrDb.toFixed(1)} dB vs the source (lag ${snr.lagSamples} samples)`);
  const outDir = path.join(process.cwd(), 'demo-output');
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'received.wav');
  writeFileSync(out, encodeWav(r.pcm));
  console.log(`  wrote               ${path.relative(process.cwd(), out)}`);

  conn.destroy();
  await server.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
