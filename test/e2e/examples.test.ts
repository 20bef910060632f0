import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dominantFrequency, parseWav } from '../../src/testing';

const root = path.resolve(__dirname, '../..');
const run = (script: string, args: string[] = []) =>
  spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', script, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });

test('examples/record.ts writes one WAV file per speaker, each with its own tone', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-record-'));
  try {
    const res = run('examples/record.ts', [dir]);
    expect(res.status).toBe(0);
    for (const [user, hz] of [
      ['alice', 440],
      ['bob', 660],
    ] as const) {
      const wav = parseWav(readFileSync(path.join(dir, `${user}.wav`)));
      expect(Math.abs(dominantFrequency(wav.pcm) - hz)).toBeLessThan(2);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);

test('npm run demo plays the bundled recording and prints the emulator report', () => {
  const res = run('examples/demo.ts');
  expect(res.status).toBe(0);
  expect(res.stdout).toMatch(/decrypt failures\s+0/);
  expect(res.stdout).toMatch(/loss\s+0 lost/);
  const snr = Number(/aligned SNR\s+(-?[\d.]+) dB/.exec(res.stdout)?.[1]);
  expect(snr).toBeGreaterThan(10);
  rmSync(path.join(root, 'demo-output'), { recursive: true, force: true });
}, 60_000);

test('examples/duckingCompressor.ts: a custom operator ducks the music while someone speaks', () => {
  const res = run('examples/duckingCompressor.ts');
  expect(res.status).toBe(0);
  const levels = /music level per second: ([\d.]+) → ([\d.]+) → ([\d.]+)/.exec(res.stdout)!.slice(1).map(Number);
  expect(levels[1]).toBeLessThan(levels[0] * 0.5);
  expect(levels[2]).toBeGreaterThan(levels[1] * 2);
}, 60_000);

test('examples/mixing.ts and examples/soundboard.ts run and play what they say', () => {
  const mixing = run('examples/mixing.ts');
  expect(mixing.status).toBe(0);
  expect(mixing.stdout).toMatch(/played 3\d{3} ms/);
  const board = run('examples/soundboard.ts');
  expect(board.status).toBe(0);
  const hz = /: (\d+) Hz, then (\d+) Hz, then (\d+) Hz/.exec(board.stdout)!.slice(1).map(Number);
  expect(hz).toEqual([1320, 330, 880]);
}, 60_000);
