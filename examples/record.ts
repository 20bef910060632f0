/**
 * `npx ts-node examples/record.ts [outDir]`: joins a voice channel and records it the way
 * recording bots do — one track per speaker, all on one timeline, plus a mix and
 * `recording.json` — with `recordVoiceChannel`.
 *
 * Runs against the embedded emulator: alice (440 Hz) talks 1 s at 0.5 s, pauses 1 s and
 * talks 0.5 s more; bob (660 Hz) talks 1 s at 1.5 s; the recording stops at 4 s. Every
 * file is 4 s long: alice's pause and bob's first 1.5 s are silence in their tracks.
 * Against Discord, replace `connectVoice({...})` with `joinVoiceChannel({..., selfDeaf:
 * false, adapterCreator })` (a deafened bot receives nothing).
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, timer } from 'rxjs';
import { connectVoice, recordVoiceChannel, type RecordingManifest } from '../src';
import { startVoiceServer } from '../src/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const directory = path.resolve(process.argv[2] ?? 'recordings');
  const server = await startVoiceServer();
  server.registerSession({ serverId: 'guild', userId: 'recorder', sessionId: 'rec', token: 'tok' });
  const conn = connectVoice({ endpoint: server.wsUrl, serverId: 'guild', userId: 'recorder', sessionId: 'rec', token: 'tok', channelId: 'chan', dave: false });
  await conn.ready();

  // Records until `until` emits (or the connection is destroyed); the last value lists the files.
  const recording = lastValueFrom(recordVoiceChannel(conn, { directory, format: 'wav', mix: true, until: timer(4000) }));

  await sleep(400); // speakAs sends its first packet 100 ms after it is called
  const alice = server.speakAs({
    userId: 'alice',
    ssrc: 1001,
    source: { tone: { frequency: 440, durationMs: 1500 } },
    pauses: [{ atMs: 1000, durationMs: 1000 }], // the RTP sequence continues, the timestamp jumps
  });
  await sleep(1000);
  const bob = server.speakAs({ userId: 'bob', ssrc: 1002, source: { tone: { frequency: 660, durationMs: 1000 } } });
  await Promise.all([alice, bob]);

  const { files, durationMs } = await recording;
  console.log(`recorded ${durationMs} ms`);
  for (const f of files ?? []) console.log(`wrote ${path.relative(process.cwd(), f.path)}${f.durationMs !== undefined ? `: ${f.durationMs} ms` : ''}`);
  const manifest = JSON.parse(readFileSync(path.join(directory, 'recording.json'), 'utf8')) as RecordingManifest;
  for (const u of manifest.users) console.log(`${u.id} talked at ${u.spurts.map((s) => `${s.startMs}–${s.endMs} ms`).join(', ')}`);
  conn.destroy();
  await server.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
