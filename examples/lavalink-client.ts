/**
 * A Lavalink bot, unchanged, on the rxvoice node: starts the voice-server emulator (DAVE on),
 * an rxvoice Lavalink node and lavalink-client 2.x — headless, the emulator standing in for
 * Discord's main gateway — then plays the bundled recording (or a file you name) served by a
 * local HTTP server, switches on nightcore after 3 s, and stops after 8 s. A second rxvoice
 * connection in the channel listens (DAVE-decrypted) and reports what it heard.
 *
 *   npx ts-node --transpile-only examples/lavalink-client.ts [file.mp3]
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { LavalinkManager } from 'lavalink-client';
import { filter, mergeMap } from 'rxjs';
import { connectVoice, jitterBuffer, opusDecode } from '../src';
import { startLavalinkNode } from '../src/server/lavalink';
import { durationMs, rms, startVoiceServer } from '../src/testing';

const GUILD = '1200000000000000077';
const CHANNEL = '1100000000000000077';
const BOT = '1300000000000000077';
const LISTENER = '1300000000000000078';
const PASSWORD = 'youshallnotpass';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const file = path.resolve(process.argv[2] ?? path.join(__dirname, 'assets', 'speech.mp3'));

  // 1. The media: any http URL ffmpeg reads.
  const media = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(media.address() as AddressInfo).port}/${path.basename(file)}`;

  // 2. Discord's voice server (the emulator) and the node.
  const voice = await startVoiceServer({ dave: true, requireDave: true });
  const node = await startLavalinkNode({ port: 0, address: '127.0.0.1', password: PASSWORD });
  console.log(`node on 127.0.0.1:${node.port}, emulator at ${voice.wsUrl}`);

  // 3. Someone in the channel, to hear the bot.
  const listenerCreds = { serverId: GUILD, channelId: CHANNEL, userId: LISTENER, sessionId: 'listener', token: 'listener-token' };
  voice.registerSession(listenerCreds);
  const listener = connectVoice({ endpoint: voice.wsUrl, ...listenerCreds });
  const heard: Buffer[] = [];
  listener.speakers$
    .pipe(
      filter((s) => s.userId === BOT),
      mergeMap((s) => s.packets$.pipe(jitterBuffer(), opusDecode())),
    )
    .subscribe((pcm) => heard.push(pcm));
  await listener.ready(5000);

  // 4. The bot: lavalink-client as any bot uses it; sendToShard answers op 4 as Discord would.
  const botCreds = { serverId: GUILD, channelId: CHANNEL, userId: BOT, sessionId: 'bot-session', token: 'bot-token' };
  voice.registerSession(botCreds);
  const manager: LavalinkManager = new LavalinkManager({
    nodes: [{ id: 'rxvoice', host: '127.0.0.1', port: node.port, authorization: PASSWORD, autoChecks: { sourcesValidations: false, pluginValidations: false } }],
    sendToShard: (guildId, payload) => {
      const p = payload as { op: number; d: { channel_id: string | null } };
      if (p.op !== 4 || !p.d.channel_id) return;
      setTimeout(() => {
        void manager.sendRawData({ t: 'VOICE_STATE_UPDATE', d: { guild_id: guildId, channel_id: CHANNEL, user_id: BOT, session_id: botCreds.sessionId } } as never);
        void manager.sendRawData({ t: 'VOICE_SERVER_UPDATE', d: { guild_id: guildId, token: botCreds.token, endpoint: voice.wsUrl } } as never);
      }, 10);
    },
    client: { id: BOT, username: 'example-bot' },
  });
  manager.on('trackStart', (_p, t) => console.log(`trackStart: ${t?.info.title} (${t?.info.duration} ms)`));
  manager.on('trackEnd', (_p, t, e) => console.log(`trackEnd: ${t?.info.title} (${e.reason})`));
  manager.on('queueEnd', (_p, _t, e) => console.log(`queueEnd (${'reason' in e ? e.reason : e.type})`));
  const connected = new Promise<void>((r) => manager.nodeManager.once('connect', () => r()));
  await manager.init({ id: BOT, username: 'example-bot' });
  await connected;

  const player = manager.createPlayer({ guildId: GUILD, voiceChannelId: CHANNEL, textChannelId: '1', selfDeaf: false });
  await player.connect();
  const result = await player.search({ query: url }, 'example');
  console.log(`loadtracks: ${result.loadType}, ${result.tracks[0]?.info.title}`);
  await player.queue.add(result.tracks[0]);
  await sleep(300); // the voice state reaches the node
  await player.play();
  await sleep(3000);
  console.log('nightcore (timescale 1.25/1.25)');
  await player.filterManager.toggleNightcore();
  await sleep(5000);
  await player.stopPlaying();
  await sleep(500);

  const pcm = Buffer.concat(heard);
  const sent = voice.receivedFrom(BOT);
  console.log(`the listener heard ${Math.round(durationMs(pcm))} ms of audio (RMS ${rms(pcm).toFixed(3)} of full scale); the emulator relayed ${sent?.frames ?? 0} packets, ${sent?.e2eeFrames ?? 0} end-to-end encrypted`);
  await player.destroy();
  listener.destroy();
  manager.nodeManager.nodes.get('rxvoice')?.destroy('example over', true);
  await node.close();
  await voice.close();
  media.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
