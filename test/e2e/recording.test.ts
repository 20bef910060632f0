import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { lastValueFrom, Subject, toArray } from 'rxjs';
import { connectVoice, type VoiceConnection } from '../../src';
import { recordVoiceChannel, type RecordingFormat, type RecordingManifest, type RecordingProgress } from '../../src/sinks/recordVoiceChannel';
import { runRecord } from '../../src/cli/record';
import { findFfmpeg } from '../../src/sources/findFfmpeg';
import { dominantFrequency, parseWav, startVoiceServer, type VoiceServer } from '../../src/testing';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BYTES_PER_MS = 192; // 48 kHz × 2 channels × 2 bytes / 1000
/** speakAs waits this long between op 5 and its first packet. */
const SPEAKING_LEAD_MS = 100;

/** s16le stereo PCM of any file, through ffmpeg. */
function decode(file: string): Buffer {
  if (file.endsWith('.wav')) return parseWav(readFileSync(file)).pcm;
  const r = spawnSync(findFfmpeg(), ['-hide_banner', '-loglevel', 'error', '-i', file, '-f', 's16le', '-ac', '2', '-ar', '48000', 'pipe:1'], { maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`ffmpeg could not decode ${file}: ${r.stderr.toString()}`);
  return r.stdout;
}

const ms = (pcm: Buffer): number => pcm.length / BYTES_PER_MS;
const slice = (pcm: Buffer, fromMs: number, toMs: number): Buffer => pcm.subarray(Math.round(fromMs * 48) * 4, Math.round(toMs * 48) * 4);

/** Peak |sample| in [fromMs, toMs). */
function peak(pcm: Buffer, fromMs: number, toMs: number): number {
  const part = slice(pcm, fromMs, toMs);
  let max = 0;
  for (let i = 0; i + 1 < part.length; i += 2) max = Math.max(max, Math.abs(part.readInt16LE(i)));
  return max;
}

/** Where sound (|s| > 2000, the tones peak at 16383) starts at or after `fromMs`, ms. */
function onset(pcm: Buffer, fromMs: number): number {
  for (let i = Math.round(fromMs * 48) * 4; i + 1 < pcm.length; i += 2) if (Math.abs(pcm.readInt16LE(i)) > 2000) return i / 4 / 48;
  return Infinity;
}

/** Where sound ends (last |s| > 2000 before `beforeMs`), ms. */
function offset(pcm: Buffer, beforeMs: number): number {
  for (let i = Math.min(pcm.length, Math.round(beforeMs * 48) * 4) - 2; i >= 0; i -= 2) if (Math.abs(pcm.readInt16LE(i)) > 2000) return i / 4 / 48;
  return -Infinity;
}

interface Run {
  /** Wall-clock length of the recording (subscribe → stop), ms. */
  wallMs: number;
  /** When the speakers started relative to the recording's start (their first packets), ms. */
  aStartMs: number;
  bStartMs: number;
  results: Map<RecordingFormat, RecordingProgress[]>;
  dirs: Map<RecordingFormat, string>;
  /** When each recorder was subscribed, ms after the scenario's start (times above are relative to that). */
  starts: Map<RecordingFormat, number>;
}

describe('recordVoiceChannel on the emulator (aligned tracks)', () => {
  let server: VoiceServer;
  let conn: VoiceConnection;
  let root: string;
  const measured: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(path.join(tmpdir(), 'rxvoice-recording-'));
    server = await startVoiceServer();
    server.registerSession({ serverId: 'g', userId: 'bot', sessionId: 's', token: 't' });
    conn = connectVoice({ endpoint: server.wsUrl, serverId: 'g', userId: 'bot', sessionId: 's', token: 't', channelId: 'c', dave: false });
    await conn.ready(5000);
  });
  afterAll(async () => {
    conn.destroy();
    await server.close();
    rmSync(root, { recursive: true, force: true });
    if (process.env.RXVOICE_RECORDING_REPORT) writeFileSync(process.env.RXVOICE_RECORDING_REPORT, measured.join('\n') + '\n');
  });

  /**
   * The scenario: A talks 1 s (440 Hz) at 0.5 s, pauses 2 s (sequence continues,
   * timestamp jumps), talks 1 s; B talks 1 s (660 Hz) at 1.5 s; stop at 6 s.
   */
  async function scenario(name: string, formats: RecordingFormat[], timestamps: 'jump' | 'frozen' = 'jump'): Promise<Run> {
    const until = new Subject<void>();
    const results = new Map<RecordingFormat, RecordingProgress[]>();
    const dirs = new Map<RecordingFormat, string>();
    const t0 = performance.now();
    const starts = new Map<RecordingFormat, number>();
    const recordings = formats.map((format) => {
      const directory = path.join(root, `${name}-${format}`);
      dirs.set(format, directory);
      starts.set(format, performance.now() - t0);
      return lastValueFrom(recordVoiceChannel(conn, { directory, format, mix: true, until }).pipe(toArray())).then((r) => results.set(format, r));
    });
    await sleep(500 - SPEAKING_LEAD_MS - (performance.now() - t0));
    const aStartMs = performance.now() - t0 + SPEAKING_LEAD_MS;
    const a = server.speakAs({
      userId: 'A',
      ssrc: 1001,
      source: { tone: { frequency: 440, durationMs: 2000 } },
      pauses: [{ atMs: 1000, durationMs: 2000, timestamp: timestamps }],
    });
    await sleep(1500 - SPEAKING_LEAD_MS - (performance.now() - t0));
    const bStartMs = performance.now() - t0 + SPEAKING_LEAD_MS;
    const b = server.speakAs({ userId: 'B', ssrc: 2002, source: { tone: { frequency: 660, durationMs: 1000 } } });
    await Promise.all([a, b]);
    await sleep(6000 - (performance.now() - t0));
    const wallMs = performance.now() - t0;
    until.next();
    await Promise.all(recordings);
    return { wallMs, aStartMs, bStartMs, results, dirs, starts };
  }

  /** Checks one format's files; returns the alignment errors, ms. */
  function checkTimeline(run: Run, format: RecordingFormat, label: string): number[] {
    const dir = run.dirs.get(format)!;
    const start = run.starts.get(format)!;
    run = { ...run, wallMs: run.wallMs - start, aStartMs: run.aStartMs - start, bStartMs: run.bStartMs - start };
    const progress = run.results.get(format)!;
    const last = progress[progress.length - 1];
    const files = last.files!;
    expect(files.map((f) => path.basename(f.path)).sort()).toEqual([`A.${format}`, `B.${format}`, `mix.${format}`, 'recording.json']);
    const a = decode(path.join(dir, `A.${format}`));
    const b = decode(path.join(dir, `B.${format}`));
    const m = decode(path.join(dir, `mix.${format}`));
    // Every track and the mix: 6 s ± 0.1 s, and the recording's length within 20 ms of the wall clock.
    for (const pcm of [a, b, m]) {
      expect(Math.abs(ms(pcm) - 6000)).toBeLessThanOrEqual(100);
      expect(Math.abs(ms(pcm) - run.wallMs)).toBeLessThanOrEqual(20);
    }
    // A: tone 0.5–1.5 s and 3.5–4.5 s, its pause silent; B silent before 1.5 s.
    const errors = [
      onset(a, 0) - run.aStartMs,
      offset(a, 2500) - (run.aStartMs + 1000),
      onset(a, 2500) - (run.aStartMs + 3000),
      onset(b, 0) - run.bStartMs,
      onset(m, 0) - run.aStartMs,
      offset(m, 3000) - (run.bStartMs + 1000),
      onset(m, 3000) - (run.aStartMs + 3000),
    ];
    // ±0.1 s as the issue asks (seen: 0–25 ms; A's second onset ~40 ms, the decoder ramping up after silence frames).
    for (const e of errors) expect(Math.abs(e)).toBeLessThanOrEqual(100);
    expect(peak(a, 0, run.aStartMs - 40)).toBeLessThan(300);
    expect(peak(a, run.aStartMs + 1100, run.aStartMs + 2940)).toBeLessThan(300);
    expect(peak(a, run.aStartMs + 4100, 6000)).toBeLessThan(300);
    expect(peak(b, 0, run.bStartMs - 40)).toBeLessThan(300);
    expect(peak(b, run.bStartMs + 1100, 6000)).toBeLessThan(300);
    // The mix: 440 Hz at 1 s, 660 Hz at 2 s.
    expect(Math.abs(dominantFrequency(slice(m, 800, 1200)) - 440)).toBeLessThanOrEqual(5);
    expect(Math.abs(dominantFrequency(slice(m, 1800, 2200)) - 660)).toBeLessThanOrEqual(5);
    // recording.json
    const manifest = JSON.parse(readFileSync(path.join(dir, 'recording.json'), 'utf8')) as RecordingManifest;
    expect(Number.isNaN(Date.parse(manifest.startedAt))).toBe(false);
    expect(manifest.mix).toBe(`mix.${format}`);
    const user = (id: string) => manifest.users.find((u) => u.id === id)!;
    expect(user('A').tracks).toEqual([`A.${format}`]);
    const spurtsA = user('A').spurts;
    const spurtsB = user('B').spurts;
    expect(spurtsA).toHaveLength(2);
    expect(spurtsB).toHaveLength(1);
    const spurtErrors = [
      spurtsA[0].startMs - run.aStartMs,
      spurtsA[0].endMs - (run.aStartMs + 1000),
      spurtsA[1].startMs - (run.aStartMs + 3000),
      spurtsA[1].endMs - (run.aStartMs + 4000),
      spurtsB[0].startMs - run.bStartMs,
      spurtsB[0].endMs - (run.bStartMs + 1000),
    ];
    for (const e of spurtErrors) expect(Math.abs(e)).toBeLessThanOrEqual(60);
    measured.push(
      `${label} ${format}: lengths A ${ms(a).toFixed(1)} B ${ms(b).toFixed(1)} mix ${ms(m).toFixed(1)} ms (wall ${run.wallMs.toFixed(1)}); ` +
        `onset/offset errors ${errors.map((e) => e.toFixed(1)).join(' ')} ms; spurt errors ${spurtErrors.map((e) => e.toFixed(0)).join(' ')} ms; ` +
        `progress values ${progress.length}`,
    );
    return errors;
  }

  test('an unwritable directory is a typed error (SINK_FAILED), at once', async () => {
    const file = path.join(root, 'not-a-directory');
    writeFileSync(file, 'x');
    const err = await lastValueFrom(recordVoiceChannel(conn, { directory: path.join(file, 'sub') })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RxVoiceError', code: 'SINK_FAILED' });
    // Under /proc, Node's recursive mkdir spins forever; ours fails at the first level.
    const proc = await lastValueFrom(recordVoiceChannel(conn, { directory: '/proc/rxvoice-test/sub' })).catch((e: unknown) => e);
    expect(proc).toMatchObject({ name: 'RxVoiceError', code: 'SINK_FAILED' });
  });

  test('an `until` that errors ends the recording like a value; a userName that throws gives no name; nothing is thrown', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    try {
      const directory = path.join(root, 'until-error');
      const until = new Subject<void>();
      const done = lastValueFrom(
        recordVoiceChannel(conn, {
          directory,
          until,
          userName: () => {
            throw new Error('no member cache');
          },
        }),
      );
      await server.speakAs({ userId: 'F', ssrc: 6001, source: { tone: { frequency: 440, durationMs: 300 } }, leaveAfter: true });
      until.error(new Error('the notifier failed'));
      const last = await done;
      expect(last.files!.map((f) => path.basename(f.path)).sort()).toEqual(['F.wav', 'recording.json']);
      const manifest = JSON.parse(readFileSync(path.join(directory, 'recording.json'), 'utf8')) as RecordingManifest;
      expect(manifest.users).toEqual([expect.not.objectContaining({ name: expect.anything() })]);
      await sleep(50);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
    }
  }, 10000);

  test('a user who leaves and rejoins (new SSRC) continues in the same track', async () => {
    const directory = path.join(root, 'rejoin');
    const until = new Subject<void>();
    const done = lastValueFrom(recordVoiceChannel(conn, { directory, until }));
    const t0 = performance.now();
    await server.speakAs({ userId: 'D', ssrc: 4001, source: { tone: { frequency: 440, durationMs: 400 } }, leaveAfter: true });
    const rejoinMs = performance.now() - t0 + SPEAKING_LEAD_MS;
    await server.speakAs({ userId: 'D', ssrc: 4002, source: { tone: { frequency: 440, durationMs: 400 } }, leaveAfter: true });
    until.next();
    const last = await done;
    expect(last.files!.filter((f) => f.kind === 'track').map((f) => path.basename(f.path))).toEqual(['D.wav']);
    const manifest = JSON.parse(readFileSync(path.join(directory, 'recording.json'), 'utf8')) as RecordingManifest;
    expect(manifest.users).toHaveLength(1);
    expect(manifest.users[0].ssrcs.sort()).toEqual([4001, 4002]);
    expect(manifest.users[0].spurts).toHaveLength(2);
    expect(Math.abs(manifest.users[0].spurts[1].startMs - rejoinMs)).toBeLessThanOrEqual(60);
    const d = decode(path.join(directory, 'D.wav'));
    expect(Math.abs(ms(d) - last.durationMs)).toBeLessThanOrEqual(20);
  }, 10000);

  test('a full disk is SINK_FAILED; the other files stay valid and recording.json is written', async () => {
    const directory = path.join(root, 'full');
    mkdirSync(directory);
    symlinkSync('/dev/full', path.join(directory, 'E.wav')); // every write fails with ENOSPC
    const until = new Subject<void>();
    const progress: RecordingProgress[] = [];
    const done = new Promise<unknown>((resolve) =>
      recordVoiceChannel(conn, { directory, mix: true, until }).subscribe({ next: (p) => progress.push(p), error: resolve, complete: () => resolve(null) }),
    );
    const speaking = server.speakAs({ userId: 'E', ssrc: 5001, source: { tone: { frequency: 440, durationMs: 600 } }, leaveAfter: true });
    const err = await done;
    until.next();
    await speaking;
    expect(err).toMatchObject({ name: 'RxVoiceError', code: 'SINK_FAILED' });
    expect(String((err as Error).message)).toMatch(/E\.wav/);
    const mixFile = readFileSync(path.join(directory, 'mix.wav'));
    expect(parseWav(mixFile).pcm.length).toBe(mixFile.length - 44); // finalized: the header holds the real size
    const manifest = JSON.parse(readFileSync(path.join(directory, 'recording.json'), 'utf8')) as RecordingManifest;
    expect(manifest.users.map((u) => u.id)).toEqual(['E']);
  }, 10000);

  test('the recording ends when the connection is destroyed', async () => {
    server.registerSession({ serverId: 'g', userId: 'bot3', sessionId: 's3', token: 't3' });
    const other = connectVoice({ endpoint: server.wsUrl, serverId: 'g', userId: 'bot3', sessionId: 's3', token: 't3', channelId: 'c', dave: false });
    await other.ready(5000);
    const directory = path.join(root, 'destroyed');
    const t0 = performance.now();
    const done = lastValueFrom(recordVoiceChannel(other, { directory, mix: true }));
    await sleep(500);
    const destroyedAt = performance.now();
    other.destroy();
    const last = await done;
    expect(Math.abs(last.durationMs - (destroyedAt - t0))).toBeLessThanOrEqual(20);
    expect(last.files!.map((f) => path.basename(f.path)).sort()).toEqual(['mix.wav', 'recording.json']);
    expect(Math.abs(ms(decode(path.join(directory, 'mix.wav'))) - 500)).toBeLessThanOrEqual(40);
  }, 10000);

  let clean: number[] = [];

  test('WAV, FLAC and Ogg recorded at once: every track and the mix 6 s ± 0.1 s on one timeline', async () => {
    const run = await scenario('clean', ['wav', 'ogg', 'flac']); // flac last: its subscribe spawns ffmpeg (the mix)
    clean = checkTimeline(run, 'wav', 'clean');
    checkTimeline(run, 'flac', 'clean');
    checkTimeline(run, 'ogg', 'clean');
    // Progress went out while recording, with both speakers.
    const progress = run.results.get('wav')!;
    expect(progress.length).toBeGreaterThanOrEqual(5);
    expect(progress[progress.length - 1].speakers.map((s) => s.userId).sort()).toEqual(['A', 'B']);
  }, 20000);

  test('10 % loss and 10 % reordering, timestamps frozen over the pause: the same timeline within one frame', async () => {
    server.faults.udp({ direction: 'out', drop: 0.1, reorder: 0.1, seed: 5 });
    let run: Run;
    try {
      run = await scenario('lossy', ['wav'], 'frozen');
    } finally {
      server.faults.udp(null);
    }
    expect(server.udpStats().faults.dropped).toBeGreaterThan(10);
    const lossy = checkTimeline(run, 'wav', 'lossy+frozen');
    // Alignment errors against the clean run's (each is measured against its own send times).
    if (clean.length > 0) lossy.forEach((e, i) => expect(Math.abs(e - clean[i])).toBeLessThanOrEqual(20 + 10));
  }, 20000);

  test('rxvoice record (runRecord) --format flac --mix: aligned FLAC tracks and a mix, live lines per speaker', async () => {
    server.registerSession({ serverId: 'g', userId: 'cli', sessionId: 's2', token: 't2' });
    const cliConn = connectVoice({ endpoint: server.wsUrl, serverId: 'g', userId: 'cli', sessionId: 's2', token: 't2', channelId: 'c', dave: false });
    await cliConn.ready(5000);
    const outDir = path.join(root, 'cli');
    const lines: string[] = [];
    const t0 = performance.now();
    const result = runRecord(
      cliConn,
      { command: 'record', token: 'x', guildId: '1', channelId: '2', gatewayUrl: null, voiceCa: null, dave: false, verbose: false, outDir, format: 'flac', mix: true, durationMs: 2500 },
      { info: (l) => lines.push(l), onInterrupt: () => undefined },
    );
    await sleep(400);
    const cStartMs = performance.now() - t0 + SPEAKING_LEAD_MS;
    await server.speakAs({ userId: 'C', ssrc: 3003, source: { tone: { frequency: 550, durationMs: 1000 } } });
    const { files } = await result;
    expect(files.map((f) => path.basename(f.path))).toEqual(['C.flac']);
    const c = decode(path.join(outDir, 'C.flac'));
    const m = decode(path.join(outDir, 'mix.flac'));
    for (const pcm of [c, m]) expect(Math.abs(ms(pcm) - 2500)).toBeLessThanOrEqual(100);
    expect(Math.abs(onset(c, 0) - cStartMs)).toBeLessThanOrEqual(60);
    expect(peak(c, 0, cStartMs - 40)).toBeLessThan(300);
    expect(Math.abs(dominantFrequency(slice(m, cStartMs + 200, cStartMs + 800)) - 550)).toBeLessThanOrEqual(5);
    expect(lines.some((l) => /C: talking/.test(l))).toBe(true);
    expect(lines.some((l) => /C: silent, talked 1\.\d s/.test(l))).toBe(true);
    expect(lines.some((l) => /mix\.flac/.test(l)) && lines.some((l) => /recording\.json/.test(l))).toBe(true);
    expect(cliConn.state.status).toBe('destroyed');
    measured.push(`cli flac: C ${ms(c).toFixed(1)} ms, mix ${ms(m).toFixed(1)} ms, onset error ${(onset(c, 0) - cStartMs).toFixed(1)} ms; lines: ${JSON.stringify(lines)}`);
  }, 15000);
});
