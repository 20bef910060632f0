/**
 * examples/discordjsBot.ts offline: a discord.js v14 client against the main-gateway
 * emulator (gateway + REST) and the voice-server emulator, all in one child process. A
 * simulated user types /play (a 3 s 440 Hz tone), /stop after 1.5 s, /record while two
 * simulated users speak, /stop, /move to another channel and /leave.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { findFfmpeg } from '../../src/sources/findFfmpeg';
import type { RecordingManifest } from '../../src';
import { dominantFrequency, parseWav } from '../../src/testing';

const ROOT = path.resolve(__dirname, '../..');
const VOICE_CHANNEL = '300000000000000002';
const MUSIC_CHANNEL = '300000000000000004';
const ALICE = '200000000000000001';
const BOB = '200000000000000002';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-djs-bot-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // No DISCORD_TOKEN: the example must not try Discord.
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'examples/discordjsBot.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 28_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

test('discord.js bot, offline: /play joins and plays, /stop stops, /record writes a WAV per speaker, /move moves, /leave leaves', async () => {
  const tone = path.join(dir, 'a440.wav');
  const made = spawnSync(findFfmpeg(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=3', '-ac', '2', '-ar', '48000', tone]);
  expect(made.status).toBe(0);
  const out = path.join(dir, 'recordings');

  const { code, stdout, stderr } = await run(['--emulate', tone, '--out', out]);
  const context = `stdout:\n${stdout}\nstderr:\n${stderr}`;
  expect({ code, context }).toEqual({ code: 0, context });

  // Logged in over the emulated REST + gateway, registered the commands, answered each one.
  expect(stdout).toContain('[bot] logged in as rxvoice-bot; registered /join, /play, /skip, /record, /move, /stop, /leave');
  expect(stdout).toContain('bot   › Playing a440.wav in General.');
  expect(stdout).toMatch(/alice › \/stop\n(?:\[bot\].*\n)*bot {3}› Stopped\.\n/);
  expect(stdout).toContain('bot   › Moved to Music.');
  expect(stdout).toContain('bot   › Left Music.');
  // The main gateway saw op 4 join (not deafened: the bot listens) — once: /record reused the
  // connection — then the move and, on /leave, op 4 leave. Two voice sessions, one per channel.
  expect(stdout).toContain(`[main gateway] op 4 from the bot: join ${VOICE_CHANNEL} (self_deaf false), join ${MUSIC_CHANNEL} (self_deaf false), leave\n`);
  expect(stdout).toMatch(new RegExp(`voice sessions of the bot: 2: ${VOICE_CHANNEL} \\(ended 4014\\), ${MUSIC_CHANNEL} `));

  // The voice emulator got the tone — 1.5 s of it, not 3 s (/stop), then five silence frames.
  const received = /received from the bot: (\d+) ms of audio \((\d+) frames, the last (\d+) silence\), (\d+) Hz dominant, (\d+) decrypt failures, (\d+) lost/.exec(stdout);
  expect(received).not.toBeNull();
  const [ms, frames, silence, hz, decryptFailures, lost] = received!.slice(1).map(Number);
  expect(frames).toBeGreaterThan(40);
  expect(ms).toBeGreaterThanOrEqual(1000);
  expect(ms).toBeLessThanOrEqual(2400);
  expect(silence).toBe(5);
  expect(Math.abs(hz - 440)).toBeLessThanOrEqual(2);
  expect(decryptFailures).toBe(0);
  expect(lost).toBe(0);

  // /record → one WAV per speaker on one timeline, each with its own tone, and recording.json
  // naming them (discord.js's member cache: display names); /stop names the folder.
  const folder = / to (.+)\.\n/.exec(stdout.slice(stdout.lastIndexOf('Stopped;')))?.[1];
  expect(folder && path.dirname(folder)).toBe(out);
  expect(readdirSync(folder!).sort()).toEqual([`${ALICE}.wav`, `${BOB}.wav`, 'recording.json']);
  const manifest = JSON.parse(readFileSync(path.join(folder!, 'recording.json'), 'utf8')) as RecordingManifest;
  const lengths = new Set<number>();
  for (const [user, freq, name] of [
    [ALICE, 440, 'Alice'],
    [BOB, 660, 'Bob'],
  ] as const) {
    const wav = parseWav(readFileSync(path.join(folder!, `${user}.wav`)));
    lengths.add(wav.pcm.length);
    expect(wav.pcm.length / 192).toBeGreaterThanOrEqual(900);
    expect(Math.abs(dominantFrequency(wav.pcm) - freq)).toBeLessThanOrEqual(2);
    const entry = manifest.users.find((u) => u.id === user);
    expect(entry).toMatchObject({ name, tracks: [`${user}.wav`] });
    expect(entry!.spurts).toHaveLength(1);
    expect(entry!.spurts[0].endMs - entry!.spurts[0].startMs).toBeGreaterThanOrEqual(900);
  }
  expect(lengths.size).toBe(1); // same timeline: equally long
  expect(stdout).toMatch(/\[recording\] 200000000000000001\.wav \(Alice\): \d+ ms, 440 Hz, talking \d+–\d+ ms/);
  expect(stdout).toContain(`[main gateway] interaction responses: ${Array(6).fill('callback 5, edit').join(', ')}\n`);
}, 30_000);
