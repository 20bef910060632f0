/**
 * `rxvoice` end to end: real processes and sockets. The test process runs the voice-server
 * emulator and the main-gateway emulator; the CLI (a child process, through ts-node) logs
 * in with @discordjs/ws, joins with joinVoiceChannelFrom, plays or records.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { lastValueFrom, toArray } from 'rxjs';
import { main } from '../../src/cli/rxvoice';
import { opusDecode } from '../../src/operators/opusDecode';
import { findFfmpeg } from '../../src/sources/findFfmpeg';
import { oggOpusSource } from '../../src/sources/oggOpusSource';
import {
  dominantFrequency,
  parseWav,
  startMainGateway,
  startVoiceServer,
  type MainGateway,
  type VoiceServer,
} from '../../src/testing';

const ROOT = path.resolve(__dirname, '../..');
const TOKEN = 'cli-test-token.Xq7-secret';
const BOT = '100000000000000042';
const GUILD = '300000000000000001';
const VOICE_CHANNEL = '300000000000000002';
const TEXT_CHANNEL = '300000000000000003';
const GUILDS_AND_VOICE_STATES = 1 | 128;
const ALICE = '200000000000000001';
const BOB = '200000000000000002';

interface CliRun {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when a stdout/stderr chunk makes `test` true. */
  waitFor(test: (out: string, err: string) => boolean, timeoutMs?: number): Promise<void>;
  exit: Promise<number | null>;
}

let dir: string;
let voice: VoiceServer;
let gateway: MainGateway;
let caFile: string;

function cli(args: string[], env: NodeJS.ProcessEnv = { DISCORD_TOKEN: TOKEN }): CliRun {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'src/cli/rxvoice.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const poke = (): void => waiters.forEach((w) => w());
  child.stdout.on('data', (d: Buffer) => ((out += d.toString()), poke()));
  child.stderr.on('data', (d: Buffer) => ((err += d.toString()), poke()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exit,
    waitFor: (test, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!test(out, err)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out; stdout:\n${out}\nstderr:\n${err}`));
        }, timeoutMs);
        waiters.add(check);
        void exit.then(() => {
          if (waiters.has(check)) {
            waiters.delete(check);
            clearTimeout(timer);
            check();
            if (!test(out, err)) reject(new Error(`exited; stdout:\n${out}\nstderr:\n${err}`));
          }
        });
        check();
      }),
  };
}

const common = () => ['--guild', GUILD, '--channel', VOICE_CHANNEL, '--gateway-url', gateway.url, '--voice-ca', caFile];

function tone(name: string, hz: number, seconds: number): string {
  const file = path.join(dir, name);
  const r = spawnSync(findFfmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', `sine=frequency=${hz}:duration=${seconds}`, '-ac', '2', '-ar', '48000', file]);
  if (r.status !== 0) throw new Error(`ffmpeg failed: ${r.stderr.toString()}`);
  return file;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-cli-'));
  voice = await startVoiceServer();
  caFile = path.join(dir, 'voice-ca.pem');
  writeFileSync(caFile, voice.certificate);
  gateway = await startMainGateway({
    token: TOKEN,
    botUserId: BOT,
    voiceServer: voice,
    heartbeatIntervalMs: 2000,
    // Alice is in the channel from the start (GUILD_CREATE members); Bob joins later (VOICE_STATE_UPDATE member).
    users: [
      { id: ALICE, username: 'alice', globalName: 'Alice A.', nick: 'Alice' },
      { id: BOB, username: 'bob', globalName: 'Bob B.' },
    ],
    guilds: [{ id: GUILD, channels: [{ id: VOICE_CHANNEL }, { id: TEXT_CHANNEL, type: 'text' }], voiceStates: [{ userId: ALICE, channelId: VOICE_CHANNEL }] }],
  });
  gateway.setVoiceState(GUILD, BOB, VOICE_CHANNEL);
});

afterAll(async () => {
  await gateway?.close();
  await voice?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('play: a 1.5 s tone arrives at 440 Hz; op 4 join, then op 4 leave; exit 0', async () => {
  const file = tone('a440.wav', 440, 1.5);
  voice.resetReceived();
  const before = gateway.voiceStateRequests().length;
  const run = cli(['play', ...common(), file]);
  expect(await run.exit).toBe(0);

  const r = voice.receivedFrom(BOT);
  expect(r).toBeDefined();
  expect(r!.decryptFailures).toBe(0);
  expect(r!.durationMs).toBeGreaterThanOrEqual(1400);
  expect(r!.durationMs).toBeLessThanOrEqual(1700);
  expect(Math.abs(dominantFrequency(r!.pcm) - 440)).toBeLessThanOrEqual(2);
  expect(r!.silenceFrames).toBe(5);

  expect(gateway.voiceStateRequests().slice(before)).toEqual([
    { guild_id: GUILD, channel_id: VOICE_CHANNEL, self_mute: false, self_deaf: true },
    { guild_id: GUILD, channel_id: null, self_mute: false, self_deaf: true },
  ]);
  expect(gateway.identifies().at(-1)).toMatchObject({ intents: GUILDS_AND_VOICE_STATES, shard: [0, 1], compress: false, authenticated: true });
  expect(run.stdout()).toMatch(/ended\s+0:01\.[45] \/ 0:01\.5 {2}frames sent 7\d, late \d+/);
  expect(run.stdout() + run.stderr()).not.toContain(TOKEN);
}, 20_000);

test('play with several inputs: played in a row without a gap, a missing URL and a missing file reported and skipped', async () => {
  const a = tone('q440.wav', 440, 1);
  const b = tone('q660.wav', 660, 1);
  voice.resetReceived();
  const run = cli(['play', ...common(), a, b, 'https://127.0.0.1:1/missing.mp3', '/no/such/file.mp3', a]);
  expect(await run.exit).toBe(0);
  const r = voice.receivedFrom(BOT)!;
  expect(Math.abs(r.frames - r.silenceFrames - 150)).toBeLessThanOrEqual(3);
  expect(r.silenceFrames).toBe(5); // one trailing silence: no gap between the inputs
  expect(r.lost).toBe(0);
  expect(Math.abs(dominantFrequency(r.pcm.subarray(60 * 3840, 90 * 3840)) - 660)).toBeLessThanOrEqual(2);
  expect(run.stderr()).toMatch(/playing .*q660\.wav \(2\/5\)/);
  expect(run.stderr()).toMatch(/cannot play https:\/\/127\.0\.0\.1:1\/missing\.mp3: .*\(skipped\)/s);
  expect(run.stderr()).toMatch(/cannot play \/no\/such\/file\.mp3: .*\(skipped\)/s);
  expect(run.stderr()).toMatch(/done: played 0:03\.0 .*2 input\(s\) failed/);
}, 30_000);

test('play --volume --seek --filter, then Ctrl-C: stops cleanly — five silence frames, op 4 leave, exit 0', async () => {
  const file = tone('long.wav', 440, 20);
  voice.resetReceived();
  const before = gateway.voiceStateRequests().length;
  // The ffmpeg → volume → Opus path, from 0:02, through an ffmpeg filter.
  const run = cli(['play', ...common(), '--volume', '0.8', '--seek', '2', '--filter', 'highpass=f=100', file]);
  await run.waitFor((out) => /playing\s+0:03\.\d \/ 0:20\.0/.test(out));
  run.child.kill('SIGINT');
  expect(await run.exit).toBe(0);
  expect(run.stderr()).toMatch(/stopping/);

  const r = voice.receivedFrom(BOT)!;
  expect(r.silenceFrames).toBe(5);
  expect(r.durationMs).toBeGreaterThanOrEqual(1000);
  expect(r.durationMs).toBeLessThan(6000);
  expect(Math.abs(dominantFrequency(r.pcm) - 440)).toBeLessThanOrEqual(2);
  expect(gateway.voiceStateRequests().slice(before).map((q) => q.channel_id)).toEqual([VOICE_CHANNEL, null]);
}, 20_000);

test('record: two speakers → two WAV files with their tones (--duration); Ogg on Ctrl-C', async () => {
  const speakers = async (): Promise<void> => {
    await Promise.all([
      voice.speakAs({ userId: '200000000000000001', ssrc: 4001, serverId: GUILD, source: { tone: { frequency: 440, durationMs: 1000 } } }),
      voice.speakAs({ userId: '200000000000000002', ssrc: 4002, serverId: GUILD, source: { tone: { frequency: 660, durationMs: 1000 } } }),
    ]);
  };

  // WAV, stopped by --duration.
  const wavDir = path.join(dir, 'rec-wav');
  const wav = cli(['record', ...common(), '--out', wavDir, '--duration', '2.5s']);
  await wav.waitFor((_, err) => /joined/.test(err));
  await speakers();
  expect(await wav.exit).toBe(0);
  const wavFiles = wav.stdout().trim().split('\n').map((l) => l.split('\t')[0]);
  expect(wavFiles.map((f) => path.basename(f)).sort()).toEqual(['200000000000000001.wav', '200000000000000002.wav']);
  const freqOf = (f: string): number => dominantFrequency(parseWav(readFileSync(f)).pcm);
  expect(Math.abs(freqOf(path.join(wavDir, '200000000000000001.wav')) - 440)).toBeLessThanOrEqual(2);
  expect(Math.abs(freqOf(path.join(wavDir, '200000000000000002.wav')) - 660)).toBeLessThanOrEqual(2);
  // Names from the main gateway: Alice's nickname (GUILD_CREATE), Bob's global name (his VOICE_STATE_UPDATE).
  const timeline = JSON.parse(readFileSync(path.join(wavDir, 'recording.json'), 'utf8')) as { users: { id: string; name?: string }[] };
  expect(timeline.users.map((u) => [u.id, u.name]).sort()).toEqual([[ALICE, 'Alice'], [BOB, 'Bob B.']]);
  expect(wav.stdout()).toMatch(/200000000000000001\.wav\t.*\tuser 200000000000000001 \(Alice\)/);
  expect(wav.stderr()).toMatch(/Bob B\. \(200000000000000002\): talking/);
  const selfDeaf = gateway.voiceStateRequests().at(-2);
  expect(selfDeaf).toEqual({ guild_id: GUILD, channel_id: VOICE_CHANNEL, self_mute: false, self_deaf: false });
  expect(gateway.voiceStateRequests().at(-1)?.channel_id).toBeNull();

  // Ogg Opus (payloads as received), stopped by Ctrl-C.
  const oggDir = path.join(dir, 'rec-ogg');
  const ogg = cli(['record', ...common(), '--out', oggDir, '--format', 'ogg']);
  await ogg.waitFor((_, err) => /joined/.test(err));
  await speakers();
  await new Promise((r) => setTimeout(r, 200));
  ogg.child.kill('SIGINT');
  expect(await ogg.exit).toBe(0);
  const oggFiles = ogg.stdout().trim().split('\n').map((l) => l.split('\t')[0]);
  expect(oggFiles.map((f) => path.basename(f)).sort()).toEqual(['200000000000000001.ogg', '200000000000000002.ogg']);
  for (const [user, hz] of [['200000000000000001', 440], ['200000000000000002', 660]] as const) {
    const frames = await lastValueFrom(oggOpusSource(path.join(oggDir, `${user}.ogg`)).pipe(opusDecode(), toArray()));
    expect(frames.length).toBeGreaterThanOrEqual(45);
    expect(Math.abs(dominantFrequency(Buffer.concat(frames)) - hz)).toBeLessThanOrEqual(2);
  }
}, 30_000);

test('record on a terminal: the live block (one line per speaker, with names) is redrawn in place', async () => {
  let out = '';
  const err: string[] = [];
  const outDir = path.join(dir, 'rec-tty');
  const sigintListeners = process.listenerCount('SIGINT');
  const run = main(['record', ...common(), '--out', outDir, '--duration', '2.5s'], { DISCORD_TOKEN: TOKEN }, {
    out: (s) => (out += s),
    err: (s) => err.push(s),
    tty: true,
  });
  const deadline = Date.now() + 10_000;
  while (!err.some((l) => /^joined/.test(l)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await voice.speakAs({ userId: ALICE, ssrc: 4011, serverId: GUILD, source: { tone: { frequency: 440, durationMs: 1000 } } });
  expect(await run).toBe(0);
  // Redrawn: the cursor goes back over the previous block (header + Alice's line), each line cleared.
  expect(out).toMatch(/\x1b\[2F\x1b\[2Krecording \d+\.\d s, 1 speaker\n\x1b\[2K {2}(talking|silent ) {2}Alice \(200000000000000001\): talked/);
  expect(out).toMatch(/talking {2}Alice \(200000000000000001\)/);
  expect(out).toMatch(/silent {3}Alice \(200000000000000001\): talked 1\.\d s in 1 spurt\n/);
  expect(out).toMatch(/200000000000000001\.wav\t.*\tuser 200000000000000001 \(Alice\)\n$/);
  expect(process.listenerCount('SIGINT')).toBe(sigintListeners); // main() removed its Ctrl-C handler
}, 20_000);

test('errors: bad token (4004) → exit 3, says authentication, never prints the token; bad args; no ffmpeg; not a voice channel', async () => {
  const badToken = 'not-the-token.SECRET-zz9';
  const [viaEnv, viaFlag, badArgs, noFfmpeg, textChannel] = [
    cli(['play', ...common(), path.join(dir, 'a440.wav')], { DISCORD_TOKEN: badToken }),
    cli(['play', '--token', badToken, '--verbose', ...common(), path.join(dir, 'a440.wav')], {}),
    cli(['play', '--channel', VOICE_CHANNEL, path.join(dir, 'a440.wav')]),
    cli(['play', ...common(), path.join(dir, 'a440.wav')], { DISCORD_TOKEN: TOKEN, FFMPEG_PATH: path.join(dir, 'no-ffmpeg-here') }),
    cli(['play', '--guild', GUILD, '--channel', TEXT_CHANNEL, '--gateway-url', gateway.url, path.join(dir, 'a440.wav')]),
  ];
  for (const run of [viaEnv, viaFlag]) {
    expect(await run.exit).toBe(3);
    expect(run.stderr()).toMatch(/authentication failed/i);
    expect(run.stdout() + run.stderr()).not.toContain(badToken);
  }
  expect(viaFlag.stderr()).toMatch(/gateway: /); // --verbose did log, redacted
  expect(await badArgs.exit).toBe(2);
  expect(badArgs.stderr()).toMatch(/--guild ID is required/);
  expect(await noFfmpeg.exit).toBe(4);
  expect(noFfmpeg.stderr()).toMatch(/ffmpeg/i);
  expect(await textChannel.exit).toBe(6);
  expect(textChannel.stderr()).toMatch(/not a voice channel/);
  expect(gateway.identifies().some((i) => !i.authenticated)).toBe(true);
}, 25_000);
