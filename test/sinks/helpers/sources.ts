import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpusEncoder } from '@discordjs/opus';
import { firstValueFrom, Observable, toArray } from 'rxjs';
import { frameSource } from '../../../src/sources/frameSource';
import { generateTone } from '../../../src/testing/audio';

/**
 * A synchronous, demand-aware source of `count` items (rxvoice's `frameSource`): it emits
 * while the sink's demand is open and resumes when it opens again, like rxvoice's real
 * sources. `onProduce` runs before each item with the count so far.
 */
export function demandAwareSource<T>(count: number, make: (i: number) => T, options: { onProduce?: (produced: number) => void } = {}): Observable<T> {
  return frameSource((i) => {
    if (i >= count) return undefined;
    options.onProduce?.(i);
    return make(i);
  });
}

/** A `durationMs` tone at 48 kHz stereo cut into 3840-byte frames. */
export function toneFrames(frequency: number, durationMs: number): Buffer[] {
  const pcm = generateTone({ frequency, durationMs });
  const frames: Buffer[] = [];
  for (let at = 0; at < pcm.length; at += 3840) frames.push(pcm.subarray(at, at + 3840));
  return frames;
}

/** Encodes a tone into 20 ms Opus packets with libopus (@discordjs/opus). */
export function opusPackets(frequency: number, durationMs: number): Buffer[] {
  const encoder = new OpusEncoder(48000, 2);
  return toneFrames(frequency, durationMs).map((frame) => encoder.encode(frame));
}

/** Everything `observable` emits, as an array. */
export function collect<T>(observable: Observable<T>): Promise<T[]> {
  return firstValueFrom(observable.pipe(toArray()));
}

/** The error `observable` ends with (fails if it completes). */
export function errorOf(observable: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    observable.subscribe({ error: resolve, complete: () => reject(new Error('completed instead of erroring')) });
  });
}

/** A fresh temporary directory; remove with `rmSync(dir, { recursive: true })`. */
export function tempDir(): { dir: string; file: (name: string) => string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'rxvoice-sinks-'));
  return { dir, file: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `check` every 10 ms until it returns true (or fails after `timeoutMs`). */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('waitFor: timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const ffmpegPath: string = (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;

/** Runs the bundled ffmpeg; resolves with its exit code, stdout and stderr. */
export function runFfmpeg(args: readonly string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, ['-hide_banner', '-nostdin', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

/** Decodes an audio file with ffmpeg to s16le 48 kHz stereo. */
export function ffmpegDecode(path: string): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return runFfmpeg(['-v', 'warning', '-i', path, '-f', 's16le', '-acodec', 'pcm_s16le', '-ar', '48000', '-ac', '2', 'pipe:1']);
}
