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
