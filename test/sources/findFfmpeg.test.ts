import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { RxVoiceError } from '../../src/errors';
import { FfmpegNotFoundError, findFfmpeg } from '../../src/sources';

const saved = { FFMPEG_PATH: process.env.FFMPEG_PATH, PATH: process.env.PATH };
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'rxvoice-findffmpeg-'));
});
afterEach(() => {
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fakeFfmpeg(sub: string, executable = true): string {
  const binDir = join(dir, sub);
  rmSync(binDir, { recursive: true, force: true });
  mkdirSync(binDir);
  const path = join(binDir, process.platform === 'win32' ? 'ffmpeg.exe' : 'ffmpeg');
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, executable ? 0o755 : 0o644);
  return path;
}

test('finds an ffmpeg (PATH or @ffmpeg-installer/ffmpeg here) and caches it', () => {
  delete process.env.FFMPEG_PATH;
  const path = findFfmpeg();
  expect(typeof path).toBe('string');
  expect(findFfmpeg()).toBe(path);
});

test('FFMPEG_PATH wins when it names an executable', () => {
  const path = fakeFfmpeg('env');
  process.env.FFMPEG_PATH = path;
  expect(findFfmpeg()).toBe(path);
});

test('FFMPEG_PATH naming a missing file throws FfmpegNotFoundError saying how to fix it', () => {
  process.env.FFMPEG_PATH = join(dir, 'nope', 'ffmpeg');
  let error: unknown;
  try {
    findFfmpeg();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(FfmpegNotFoundError);
  expect(error).toBeInstanceOf(RxVoiceError);
  const err = error as FfmpegNotFoundError;
  expect(err.code).toBe('FFMPEG_NOT_FOUND');
  expect(err.name).toBe('FfmpegNotFoundError');
  expect(err.message).toMatch(/FFMPEG_PATH/);
  expect(err.message).toMatch(/install ffmpeg/);
  expect(err.message).toMatch(/@ffmpeg-installer\/ffmpeg/);
});

(process.platform === 'win32' ? test.skip : test)('FFMPEG_PATH naming a non-executable file throws', () => {
  process.env.FFMPEG_PATH = fakeFfmpeg('noexec', false);
  expect(() => findFfmpeg()).toThrow(FfmpegNotFoundError);
});

test('searches PATH directories in order, skipping non-executables', () => {
  delete process.env.FFMPEG_PATH;
  fakeFfmpeg('a', false);
  const b = fakeFfmpeg('b');
  fakeFfmpeg('c');
  process.env.PATH = [join(dir, 'missing'), join(dir, 'a'), join(dir, 'b'), join(dir, 'c')].join(delimiter);
  expect(findFfmpeg()).toBe(b);
});

test('refresh: true searches again', () => {
  delete process.env.FFMPEG_PATH;
  const first = fakeFfmpeg('r1');
  process.env.PATH = [join(dir, 'r0'), join(dir, 'r1')].join(delimiter);
  expect(findFfmpeg()).toBe(first);
  const earlier = fakeFfmpeg('r0');
  expect(findFfmpeg()).toBe(first); // cached
  expect(findFfmpeg({ refresh: true })).toBe(earlier);
});
