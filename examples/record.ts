/**
 * `npx ts-node examples/record.ts [outDir]`: joins a voice channel and writes one WAV file
 * per speaker — the receive pipeline `speakers$ → jitterBuffer → opusDecode → wavFileSink`.
 *
 * Runs against the embedded emulator, where two simulated users (440 Hz and 660 Hz) speak
 * for 2 s. Against Discord, replace `connectVoice({...})` with `joinVoiceChannel({...,
 * selfDeaf: false, adapterCreator })` (a deafened bot receives nothing).
 */
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, mergeMap, toArray } from 'rxjs';
import { connectVoice, jitterBuffer, opusDecode, wavFileSink } from '../src';
import { startVoiceServer } from '../src/testing';

async function main(): Promise<void> {
  const outDir = path.resolve(process.argv[2] ?? 'recordings');
  mkdirSync(outDir, { recursive: true });
  const server = await startVoiceServer();
  server.registerSession({ serverId: 'guild', userId: 'recorder', sessionId: 'rec', token: 'tok' });
  const conn = connectVoice({ endpoint: server.wsUrl, serverId: 'guild', userId: 'recorder', sessionId: 'rec', token: 'tok', channelId: 'chan', dave: false });
  await conn.ready();

  // One file per speaker; each recording ends when its user leaves the channel.
  const files = lastValueFrom(
    conn.speakers$.pipe(
      mergeMap((s) => s.packets$.pipe(jitterBuffer(), opusDecode(), wavFileSink(path.join(outDir, `${s.userId}.wav`)))),
      toArray(),
    ),
  );

  await Promise.all([
    server.speakAs({ userId: 'alice', ssrc: 1001, source: { tone: { frequency: 440, durationMs: 2000 } }, leaveAfter: true }),
    server.speakAs({ userId: 'bob', ssrc: 1002, source: { tone: { frequency: 660, durationMs: 2000 } }, leaveAfter: true }),
  ]);
  await new Promise((r) => setTimeout(r, 300));
  conn.destroy(); // completes speakers$
  for (const f of await files) console.log(`wrote ${path.relative(process.cwd(), f.path)}: ${f.durationMs} ms`);
  await server.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
