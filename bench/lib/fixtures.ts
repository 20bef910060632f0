/**
 * Benchmark inputs, generated with ffmpeg into `bench/.tmp/fixtures` (never committed) and
 * reused while they exist: a 48 kHz stereo Ogg Opus clip (96 kb/s, 20 ms packets) of a
 * music-like signal (two gliding tones plus a little noise), the same signal as a 44.1 kHz
 * mp3, and a one-hour Ogg Opus made by looping the clip without re-encoding.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { opus } from 'prism-media';
import { findFfmpeg } from '../../src/sources/findFfmpeg';
import { TMP_DIR } from './common';

export const FIXTURE_DIR = path.join(TMP_DIR, 'fixtures');

const SIGNAL =
  "aevalsrc='0.3*sin(2*PI*(220+110*sin(2*PI*0.25*t))*t)+0.02*(random(0)-0.5)|" +
  "0.3*sin(2*PI*(330+50*sin(2*PI*0.5*t))*t)+0.02*(random(1)-0.5)':s=48000";

export interface Fixture {
  path: string;
  durationMs: number;
  /** Opus packets in the file (Ogg only). */
  packets: number;
}

function ffmpeg(args: string[]): void {
  execFileSync(findFfmpeg(), ['-hide_banner', '-loglevel', 'error', '-y', ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** Counts the Opus packets of an Ogg file with prism's demuxer (what both libraries use). */
export async function countOggPackets(file: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const demuxer = new opus.OggDemuxer();
    demuxer.on('data', () => n++);
    demuxer.on('end', () => resolve(n));
    demuxer.on('error', reject);
    fs.createReadStream(file).on('error', reject).pipe(demuxer);
  });
}

async function cached(file: string, make: () => void, count: boolean, durationMs: number): Promise<Fixture> {
  const meta = `${file}.json`;
  if (fs.existsSync(file) && fs.existsSync(meta)) return JSON.parse(fs.readFileSync(meta, 'utf8')) as Fixture;
  fs.mkdirSync(FIXTURE_DIR, { recursive: true });
  make();
  const fixture: Fixture = { path: file, durationMs, packets: count ? await countOggPackets(file) : 0 };
  fs.writeFileSync(meta, JSON.stringify(fixture));
  return fixture;
}

/** A `seconds`-long Ogg Opus clip. */
export function oggClip(seconds: number): Promise<Fixture> {
  const file = path.join(FIXTURE_DIR, `clip-${seconds}s.ogg`);
  return cached(
    file,
    () => ffmpeg(['-f', 'lavfi', '-i', `${SIGNAL}:d=${seconds}`, '-c:a', 'libopus', '-b:a', '96k', '-frame_duration', '20', '-application', 'audio', file]),
    true,
    seconds * 1000,
  );
}

/** A `seconds`-long mp3 (44.1 kHz stereo, 128 kb/s). */
export function mp3Clip(seconds: number): Promise<Fixture> {
  const file = path.join(FIXTURE_DIR, `clip-${seconds}s.mp3`);
  return cached(
    file,
    () => ffmpeg(['-f', 'lavfi', '-i', `${SIGNAL}:d=${seconds}`, '-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k', file]),
    false,
    seconds * 1000,
  );
}

/** A one-hour Ogg Opus file: the 20 s clip looped (packets copied, not re-encoded). */
export async function oggHour(): Promise<Fixture> {
  const clip = await oggClip(20);
  const file = path.join(FIXTURE_DIR, 'long-1h.ogg');
  return cached(file, () => ffmpeg(['-stream_loop', '-1', '-i', clip.path, '-t', '3600', '-c', 'copy', file]), true, 3_600_000);
}
