/**
 * `npm run demo [-- <file or URL>] [-- --no-dave]`
 *
 * Starts the embedded voice-server emulator (DAVE required, like Discord), connects two
 * bots to one channel — a player and a listener — the way a bot connects to Discord
 * (voice gateway v8 over TLS, UDP IP discovery, transport encryption, DAVE MLS group),
 * plays a file through the main pipeline
 *
 *     ffmpegSource(file).pipe(opusEncode(), voiceSink(conn))
 *
 * and prints what arrived: at the emulator (duration, frames, loss, pacing, decrypt
 * failures, how many frames were end-to-end encrypted — it cannot read them) and at the
 * listener (decrypted, decoded audio compared with the source: aligned SNR). The heard
 * audio is written to `demo-output/received.wav`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { filter, firstValueFrom, lastValueFrom, reduce, take, tap, toArray } from 'rxjs';
import { connectVoice, jitterBuffer, opusDecode, type VoiceConnection } from '../src';
import { opusEncode } from '../src/operators/opusEncode';
import { voiceSink } from '../src/sinks/voiceSink';
import { ffmpegSource } from '../src/sources';
import { alignedSnr, encodeWav, startVoiceServer } from '../src/testing';

const args = process.argv.slice(2);
const dave = !args.includes('--no-dave');
const input = args.find((a) => !a.startsWith('--')) ?? path.join(__dirname, 'assets', 'speech.mp3');

const GUILD = '1000000000000000001';
const CHANNEL = '1000000000000000002';

async function main(): Promise<void> {
  const server = await startVoiceServer({ dave, requireDave: dave, heartbeatIntervalMs: 5000 });
  console.log(`emulator: wss://${server.endpoint} (udp ${server.udpPort})${dave ? ', DAVE required' : ''}`);

  // What a bot gets from VOICE_STATE_UPDATE / VOICE_SERVER_UPDATE; here the emulator's.
  const join = async (userId: string, name: string): Promise<VoiceConnection> => {
    const session = { serverId: GUILD, channelId: CHANNEL, userId, sessionId: `${name}-session`, token: `${name}-token` };
    server.registerSession(session);
    const conn = connectVoice({ endpoint: server.endpoint, tls: { ca: server.certificate }, ...session, dave });
    const ready = await conn.ready(10_000);
    console.log(`${name}: ready (ssrc ${ready.ssrc}, ${ready.mode})`);
    return conn;
  };
  const player = await join('1000000000000000010', 'player');
  const listener = await join('1000000000000000011', 'listener');
  if (dave) {
    const [p, l] = await Promise.all(
      [player, listener].map((c) => firstValueFrom(c.dave$.pipe(filter((s) => s.status === 'active')))),
    );
    console.log(`DAVE active: epoch ${p.epoch}, voice privacy code ${p.privacyCode} (listener: ${l.privacyCode === p.privacyCode ? 'same' : 'DIFFERENT'})`);
    const code = await player.verificationCode('1000000000000000011');
    console.log(`verification code player↔listener: ${code}`);
  }

  // The listener records what it hears from the player.
  const heard = firstValueFrom(listener.speakers$.pipe(take(1))).then((speaker) =>
    lastValueFrom(speaker.packets$.pipe(jitterBuffer(), opusDecode(), toArray())),
  );

  console.log(`playing ${input}`);
  let line = '';
  const last = await lastValueFrom(
    ffmpegSource(input).pipe(
      opusEncode(),
      voiceSink(player, { progressEveryMs: 500 }),
      tap((p) => {
        line = `  ${(p.positionMs / 1000).toFixed(1)} s  ${p.status}  sent ${p.framesSent}  late ${p.framesLate}`;
        if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
      }),
    ),
  );
  if (process.stdout.isTTY) process.stdout.write('\n');
  else console.log(line);
  await new Promise((r) => setTimeout(r, 300));
  player.destroy(); // the listener's stream of the player ends (op 13)
  const pcm = Buffer.concat(await heard);

  // The source as PCM, decoded again, to compare with what the listener heard.
  const ref = Buffer.concat(await lastValueFrom(ffmpegSource(input).pipe(reduce((acc: Buffer[], f) => (acc.push(f), acc), []))));
  const r = server.receivedFrom('1000000000000000010');
  if (!r) throw new Error('the emulator received nothing');
  const snr = alignedSnr(pcm, ref, { maxLagMs: 300 });
  console.log('\nat the emulator (the SFU)');
  console.log(`  frames              ${r.frames} (${r.silenceFrames} silence frames), ${Math.round((r.frames - r.silenceFrames) * 20)} ms of audio (sent ${last.positionMs} ms)`);
  console.log(`  loss                ${r.lost} lost, ${r.duplicates} duplicates, ${r.reordered} reordered`);
  console.log(`  decrypt failures    ${r.decryptFailures} (transport encryption)`);
  console.log(`  end-to-end frames   ${r.e2eeFrames} of ${r.frames - r.silenceFrames} (opaque to the server)`);
  console.log(`  pacing |Δt − 20 ms| p50 ${r.pacing.p50.toFixed(2)} ms, p99 ${r.pacing.p99.toFixed(2)} ms, max ${r.pacing.max.toFixed(2)} ms`);
  console.log(`  jitter (RFC 3550)   ${r.jitterMs.toFixed(2)} ms`);
  console.log('at the listener');
  console.log(`  heard               ${Math.round((pcm.length / 3840) * 20)} ms (source ${Math.round((ref.length / 3840) * 20)} ms), DAVE decrypt failures ${listener.receiveStats().decryptFailures}`);
  console.log(`  aligned SNR         ${snr.snrDb.toFixed(1)} dB vs the source (lag ${snr.lagSamples} samples)`);
  const outDir = path.join(process.cwd(), 'demo-output');
  mkdirSync(outDir, { recursive: true });
  const out = path.join(outDir, 'received.wav');
  writeFileSync(out, encodeWav(pcm));
  console.log(`  wrote               ${path.relative(process.cwd(), out)}`);

  listener.destroy();
  await server.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
