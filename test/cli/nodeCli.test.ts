/**
 * `rxvoice node` as users run it: a child process started in a directory holding Lavalink's
 * stock `application.yml` (read from the working directory, as Lavalink does; only the port is
 * overridden by a flag so that tests never clash), serving lavalink-client, which plays an mp3
 * from a local HTTP server into the voice emulator with DAVE; `--metrics` serves /metrics.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { LavalinkManager } from 'lavalink-client';
import { connectVoice } from '../../src';
import { findFfmpeg } from '../../src/sources/findFfmpeg';
import { startVoiceServer, type VoiceServer } from '../../src/testing';

const ROOT = path.resolve(__dirname, '../..');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let media: Server;
let voice: VoiceServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-node-cli-'));
  copyFileSync(path.join(ROOT, 'test/server/lavalink/application.yml.example'), path.join(dir, 'application.yml'));
  execFileSync(findFfmpeg(), ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-ac', '2', '-ar', '48000', path.join(dir, 'tone.mp3')]);
  media = createServer((req, res) => {
    const file = path.join(dir, path.basename(req.url ?? ''));
    try {
      res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': statSync(file).size });
      createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => media.listen(0, '127.0.0.1', r));
  voice = await startVoiceServer({ dave: true, requireDave: true, daveTransitionTimeoutMs: 1000 });
});

afterAll(async () => {
  await voice?.close();
  await new Promise((r) => media?.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('npx rxvoice node with the stock application.yml serves lavalink-client: it plays into the emulator (DAVE), /metrics with --metrics', async () => {
  const child = spawn(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), path.join(ROOT, 'src/cli/rxvoice.ts'), 'node', '--port', '0', '--metrics', ...(process.env.LAVALINK_DEBUG ? ['--verbose'] : [])], {
    cwd: dir,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TS_NODE_PROJECT: path.join(ROOT, 'tsconfig.json') },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const end = Date.now() + 20_000;
    while (!/listening on \S+:(\d+)/.test(out) && Date.now() < end) await sleep(50);
    const port = Number(/listening on \S+:(\d+)/.exec(out)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(err).toContain(`config: ${path.join(dir, 'application.yml')}`);
    // The stock file enables soundcloud, bandcamp, …: said plainly, not silently ignored.
    expect(err).toMatch(/soundcloud.*not served by this node/);

    const userId = '1310000000000000021';
    const guildId = '1210000000000000021';
    const channelId = '1110000000000000021';
    const creds = { serverId: guildId, channelId, userId, sessionId: 'cli-voice', token: 'cli-voice-token' };
    voice.registerSession(creds);
    // A second member in the channel, as in clients.test.ts (with the bot alone, the emulator received its frames without E2EE).
    const listenerCreds = { serverId: guildId, channelId, userId: '1410000000000000021', sessionId: 'cli-listener', token: 'cli-listener-token' };
    voice.registerSession(listenerCreds);
    const listener = connectVoice({ endpoint: voice.wsUrl, ...listenerCreds });
    await listener.ready(5000);
    const manager: LavalinkManager = new LavalinkManager({
      // The stock password.
      nodes: [{ id: 'cli', host: '127.0.0.1', port, authorization: 'youshallnotpass', retryAmount: 1, retryDelay: 500, autoChecks: { sourcesValidations: false, pluginValidations: false } }],
      sendToShard: (gid, payload) => {
        const p = payload as { op: number; d: { channel_id: string | null } };
        if (p.op === 4 && gid === guildId && p.d.channel_id) {
          setTimeout(() => {
            void manager.sendRawData({ t: 'VOICE_STATE_UPDATE', d: { guild_id: guildId, channel_id: channelId, user_id: userId, session_id: creds.sessionId, self_deaf: false, self_mute: false } } as never);
            void manager.sendRawData({ t: 'VOICE_SERVER_UPDATE', d: { guild_id: guildId, token: creds.token, endpoint: voice.wsUrl } } as never);
          }, 10);
        }
      },
      client: { id: userId, username: 'rxvoice-cli-test' },
      playerOptions: { onEmptyQueue: { destroyAfterMs: -1 } },
    });
    const connected = new Promise<void>((resolve) => manager.nodeManager.once('connect', () => resolve()));
    await manager.init({ id: userId, username: 'rxvoice-cli-test' });
    await connected;
    const lcNode = manager.nodeManager.nodes.get('cli')!;
    try {
      const player = manager.createPlayer({ guildId, voiceChannelId: channelId, textChannelId: '1', selfDeaf: false, volume: 100 });
      await player.connect();
      const found = await player.search({ query: `http://127.0.0.1:${(media.address() as AddressInfo).port}/tone.mp3` }, 'tester');
      expect(found.loadType).toBe('track');
      await player.queue.add(found.tracks[0]);
      const voiceEnd = Date.now() + 5000;
      while (!player.voice?.endpoint && Date.now() < voiceEnd) await sleep(20);
      await player.play();
      const audioEnd = Date.now() + 10_000;
      while ((voice.receivedFrom(userId)?.e2eeFrames ?? 0) < 50 && Date.now() < audioEnd) await sleep(50);
      // 50 end-to-end encrypted frames: 1 s of the track, through DAVE.
      expect(voice.receivedFrom(userId)?.e2eeFrames ?? 0).toBeGreaterThanOrEqual(50);

      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      expect(await metrics.text()).toMatch(/^lavalink_playing_players_total 1$/m);
      await player.destroy();
    } finally {
      lcNode.destroy('test over', true);
      listener.destroy();
    }
  } finally {
    child.kill('SIGTERM');
  }
  // SIGTERM: the node closes its sessions and exits 0.
  expect(await exited).toBe(0);
}, 60_000);
