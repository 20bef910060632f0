import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpusEncoder } from '@discordjs/opus';
import type { Observable, Subscription } from 'rxjs';
import { SinkDemand, withDemand, type FrameDemand } from '../../src/core/FrameDemand';
import { findFfmpeg } from '../../src/sources';

/** A temporary directory of test media, made with ffmpeg at test time (never committed). */
export interface Fixtures {
  dir: string;
  path(name: string): string;
  remove(): void;
}

/** Fixture recipes: file name → ffmpeg arguments after the lavfi input (or a full arg list). */
const LAVFI_TONE = (frequency: number, seconds: number): string[] => [
  '-f',
  'lavfi',
  '-i',
  `sine=frequency=${frequency}:sample_rate=48000:duration=${seconds}`,
];
/** 440 Hz for the first second, 880 Hz for the second. */
const TWO_TONE = ['-f', 'lavfi', '-i', "aevalsrc=exprs='0.5*sin(2*PI*if(lt(t\\,1)\\,440\\,880)*t)':s=48000:d=2"];

const RECIPES: Record<string, (dir: string) => string[]> = {
  'tone.wav': () => [...LAVFI_TONE(440, 1), '-ac', '2', '-c:a', 'pcm_s16le'],
  'tone.mp3': () => [...LAVFI_TONE(440, 1), '-ac', '2', '-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k'],
  'tone.flac': () => [...LAVFI_TONE(440, 1), '-ac', '2', '-c:a', 'flac'],
  'tone.ogg': () => [...LAVFI_TONE(440, 1), '-ac', '2', '-c:a', 'libopus', '-b:a', '96k'],
  'tone.webm': () => [...LAVFI_TONE(440, 1), '-ac', '2', '-c:a', 'libopus', '-b:a', '96k'],
  'mono.ogg': () => [...LAVFI_TONE(440, 1), '-ac', '1', '-c:a', 'libopus', '-b:a', '64k'],
  'vorbis.ogg': () => [...LAVFI_TONE(440, 1), '-ac', '2', '-c:a', 'libvorbis'],
  'twotone.flac': () => [...TWO_TONE, '-ac', '2', '-c:a', 'flac'],
  'twotone.ogg': () => [...TWO_TONE, '-ac', '2', '-c:a', 'libopus', '-b:a', '96k'],
  'tone660.wav': () => [...LAVFI_TONE(660, 1), '-ac', '2', '-c:a', 'pcm_s16le'],
  // A 3 s sweep 200 -> 2000 Hz: every position has its own waveform (for seek tests).
  'chirp.wav': () => ['-f', 'lavfi', '-i', "aevalsrc=exprs='0.5*sin(2*PI*(200*t+300*t*t))':s=48000:d=3", '-ac', '2', '-c:a', 'pcm_s16le'],
  // The Opus packets of tone.ogg, remuxed without re-encoding.
  'copy.webm': (dir) => ['-i', join(dir, 'tone.ogg'), '-c:a', 'copy'],
};

/** `tone-<Hz>-<seconds>s.<mp3|ogg|wav>`: a stereo tone of that length (for queue tests). */
function toneRecipe(name: string): ((dir: string) => string[]) | undefined {
  const m = /^tone-(\d+)-(\d+)s\.(mp3|ogg|wav)$/.exec(name);
  if (!m) return undefined;
  const codec = { mp3: ['-c:a', 'libmp3lame', '-b:a', '128k'], ogg: ['-c:a', 'libopus', '-b:a', '96k'], wav: ['-c:a', 'pcm_s16le'] }[m[3] as 'mp3' | 'ogg' | 'wav'];
  return () => [...LAVFI_TONE(Number(m[1]), Number(m[2])), '-ac', '2', ...codec];
}

/** Makes the named fixtures (in order; `copy.webm` needs `tone.ogg` first) in a fresh tmp dir. */
export function makeFixtures(names: readonly string[]): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'rxvoice-sources-'));
  const ffmpeg = findFfmpeg();
  for (const name of names) {
    if (name === 'corrupt.mp3') {
      writeFileSync(join(dir, name), pseudoRandomBytes(20_000, 0x5eed));
      continue;
    }
    const recipe = RECIPES[name] ?? toneRecipe(name);
    if (!recipe) throw new Error(`no fixture recipe for ${name}`);
    const result = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-nostdin', '-y', ...recipe(dir), join(dir, name)], {
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`making ${name} failed: ${result.stderr}`);
  }
  return { dir, path: (name) => join(dir, name), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic bytes (xorshift32). */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** What an observable did: its values and how it ended. */
export interface Collected<T> {
  values: T[];
  error: unknown;
  completed: boolean;
}

/** A consumer that counts what it receives (and thereby attaches its demand to the emitting source). */
function received(demand: FrameDemand | null): void {
  if (demand instanceof SinkDemand) demand.received();
}

/** Subscribes (inside `withDemand(demand)` when given) and resolves when it completes or errors. */
export function collect<T>(source: Observable<T>, demand: FrameDemand | null = null): Promise<Collected<T>> {
  return new Promise((resolve) => {
    const values: T[] = [];
    withDemand(demand, () =>
      source.subscribe({
        next: (v) => {
          received(demand);
          values.push(v);
        },
        error: (error: unknown) => resolve({ values, error, completed: false }),
        complete: () => resolve({ values, error: undefined, completed: true }),
      }),
    );
  });
}

/** A live subscription whose values can be inspected while it runs. */
export interface Live<T> {
  values: T[];
  error: unknown;
  completed: boolean;
  subscription: Subscription;
  /** From now on the consumer takes every frame at once (and drops what it held): the source runs free. */
  drain(): void;
}

export function subscribeLive<T>(source: Observable<T>, demand: FrameDemand | null = null): Live<T> {
  let draining = false;
  const live: Omit<Live<T>, 'subscription'> = {
    values: [],
    error: undefined,
    completed: false,
    drain() {
      draining = true;
      if (demand instanceof SinkDemand) demand.clear();
    },
  };
  const subscription = withDemand(demand, () =>
    source.subscribe({
      next: (v) => {
        received(demand);
        if (draining && demand instanceof SinkDemand) demand.consume();
        live.values.push(v);
      },
      error: (error: unknown) => (live.error = error),
      complete: () => (live.completed = true),
    }),
  );
  return Object.assign(live, { subscription });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 10 ms until it holds or `timeoutMs` passes; returns whether it held. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

/** Pids of live (non-zombie) or zombie `ffmpeg` children of this process (Linux /proc). */
export function ffmpegChildren(): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(open + 1, close);
    const [state, ppid] = stat.slice(close + 2).split(' ');
    if (comm === 'ffmpeg' && Number(ppid) === process.pid) out.push({ pid: Number(entry), state });
  }
  return out;
}

export const hasProc = ((): boolean => {
  try {
    readdirSync('/proc/self');
    return true;
  } catch {
    return false;
  }
})();

/** Decodes Opus packets to 48 kHz stereo PCM. */
export function decodeOpus(packets: readonly Buffer[]): Buffer {
  const decoder = new OpusEncoder(48000, 2);
  return Buffer.concat(packets.map((p) => decoder.decode(p)));
}
