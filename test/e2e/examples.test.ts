import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dominantFrequency, parseWav } from '../../src/testing';

const root = path.resolve(__dirname, '../..');
/**
 * Runs an example to its end. The examples mostly wait on real time (playback at 20 ms), so
 * the tests run concurrently (`test.concurrent`, at most `maxConcurrency` at once: jest.config.js).
 */
const run = (script: string, args: string[] = []): Promise<{ status: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script, ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    // Decoded as a stream: a multi-byte character split across chunks stays whole.
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (err) => (stderr += `spawn failed: ${err.message}`));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });

test.concurrent('examples/record.ts writes one WAV track per speaker on one timeline, each with its own tone, and the mix', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-record-'));
  try {
    const res = await run('examples/record.ts', [dir]);
    expect(res).toMatchObject({ status: 0 }); // on failure, jest prints stdout and stderr
    for (const [user, hz] of [
      ['alice', 440],
      ['bob', 660],
    ] as const) {
      const wav = parseWav(readFileSync(path.join(dir, `${user}.wav`)));
      expect(Math.abs(dominantFrequency(wav.pcm) - hz)).toBeLessThan(2);
      expect(Math.abs(wav.pcm.length / 192 - 4000)).toBeLessThanOrEqual(100); // every track on the 4 s timeline
    }
    const mixed = parseWav(readFileSync(path.join(dir, 'mix.wav'))).pcm;
    expect(Math.abs(mixed.length / 192 - 4000)).toBeLessThanOrEqual(100);
    expect(Math.abs(dominantFrequency(mixed.subarray(1000 * 192, 1400 * 192)) - 440)).toBeLessThan(5); // alice at 1 s
    expect(Math.abs(dominantFrequency(mixed.subarray(1800 * 192, 2200 * 192)) - 660)).toBeLessThan(5); // bob at 2 s
    expect(res.stdout).toMatch(/bob talked at 1[45]\d\d–2[45]\d\d ms/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test.concurrent('npm run demo plays the bundled recording and prints the emulator report', async () => {
  const res = await run('examples/demo.ts');
  expect(res).toMatchObject({ status: 0 }); // on failure, jest prints stdout and stderr
  expect(res.stdout).toMatch(/decrypt failures\s+0/);
  expect(res.stdout).toMatch(/loss\s+0 lost/);
  const snr = Number(/aligned SNR\s+(-?[\d.]+) dB/.exec(res.stdout)?.[1]);
  expect(snr).toBeGreaterThan(10);
  rmSync(path.join(root, 'demo-output'), { recursive: true, force: true });
}, 60_000);

test.concurrent('examples/duckingCompressor.ts: a custom operator ducks the music while someone speaks', async () => {
  const res = await run('examples/duckingCompressor.ts');
  expect(res).toMatchObject({ status: 0 }); // on failure, jest prints stdout and stderr
  const levels = /music level per second: ([\d.]+) → ([\d.]+) → ([\d.]+)/.exec(res.stdout)!.slice(1).map(Number);
  expect(levels[1]).toBeLessThan(levels[0] * 0.5);
  expect(levels[2]).toBeGreaterThan(levels[1] * 2);
}, 60_000);

test.concurrent('examples/mixing.ts and examples/soundboard.ts run and play what they say', async () => {
  const mixing = await run('examples/mixing.ts');
  expect(mixing).toMatchObject({ status: 0 });
  expect(mixing.stdout).toMatch(/played 3\d{3} ms/);
  const board = await run('examples/soundboard.ts');
  expect(board).toMatchObject({ status: 0 });
  const hz = /: (\d+) Hz, then (\d+) Hz, then (\d+) Hz/.exec(board.stdout)!.slice(1).map(Number);
  expect(hz).toEqual([1320, 330, 880]);
}, 60_000);

test.concurrent('examples/filters.ts switches Lavalink filters live: nightcore, bass boost, 8D, karaoke each show in what the emulator heard', async () => {
  const res = await run('examples/filters.ts');
  expect(res).toMatchObject({ status: 0 }); // on failure, jest prints stdout and stderr
  const [outMs, inMs] = /played (\d+) ms of filtered audio from (\d+) ms of input/.exec(res.stdout)!.slice(1).map(Number);
  expect(inMs - outMs).toBeGreaterThan(300); // nightcore (speed 1.25 for 2 s) consumed ~500 ms more input
  const seg = (name: string) => {
    const m = new RegExp(`${name}\\s*: level (-?[\\d.]+) dBFS, bass (-?[\\d.]+) dB, balance (-?[\\d.]+) … (-?[\\d.]+)`).exec(res.stdout)!;
    const [level, bass, min, max] = m.slice(1).map(Number);
    return { level, bass, min, max };
  };
  const plain = seg('plain');
  expect(Math.max(Math.abs(plain.min), Math.abs(plain.max))).toBeLessThan(0.05);
  expect(seg('bass boost').bass).toBeGreaterThan(plain.bass + 3);
  const eightD = seg('8D');
  expect(eightD.min).toBeLessThan(-0.8);
  expect(eightD.max).toBeGreaterThan(0.8);
  expect(seg('karaoke').level).toBeLessThan(plain.level - 8);
}, 60_000);

test.concurrent('examples/lavalink-client.ts: lavalink-client plays through the rxvoice node into the emulator, end-to-end encrypted', async () => {
  const res = await run('examples/lavalink-client.ts');
  expect(res).toMatchObject({ status: 0 }); // on failure, jest prints stdout and stderr
  expect(res.stdout).toMatch(/^loadtracks: track/m);
  expect(res.stdout).toMatch(/^trackStart: /m);
  const [heardMs, relayed, e2ee] = /heard (\d+) ms of audio .*relayed (\d+) packets, (\d+) end-to-end encrypted/.exec(res.stdout)!.slice(1).map(Number);
  // 8 s of playing (3 s plain, 5 s nightcore); margins for a loaded machine.
  expect(heardMs).toBeGreaterThan(6000);
  expect(e2ee).toBeGreaterThan(relayed * 0.9);
}, 60_000);
