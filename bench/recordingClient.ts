/**
 * The recording scenario's measured process: one rxvoice connection (the driver's default)
 * to the bench emulator, recording the guild with `recordVoiceChannel` (every user's track and
 * the mix) for `durationMs` of wall-clock time, while the orchestrator has the emulator's
 * simulated users talk.
 *
 * Measures: the wall-clock length of the recording (CLOCK_MONOTONIC from the subscription to
 * the `until` value) against every file's audio length; memory (RSS, heap, external and
 * ArrayBuffers) every `memoryEveryMs`; own CPU. Reads `recording.json` back.
 *
 * IPC: → `{ type: 'recording', startedAt }` once recording (CLOCK_MONOTONIC ms); →
 * `{ type: 'result', … }` (RecordingClientResult) at the end. Config: argv[2] JSON.
 * Run with NODE_TLS_REJECT_UNAUTHORIZED=0 (the emulator's certificate is self-signed).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { lastValueFrom, Subject } from 'rxjs';
import { monoMs, procCpuMs } from './lib/common';

export interface RecordingClientConfig {
  endpoint: string;
  guildId: string;
  userId: string;
  directory: string;
  format: 'wav' | 'flac' | 'ogg';
  durationMs: number;
  memoryEveryMs: number;
}

export interface RecordingClientResult {
  type: 'result';
  error: string | null;
  /** CLOCK_MONOTONIC ms at subscription and at the `until` value. */
  startedAt: number;
  stoppedAt: number;
  /** `durationMs` of the last progress value. */
  reportedMs: number;
  /** Audio length of every file, ms (from the WAV header's data size; other formats: as reported). */
  files: Array<{ kind: string; userId: string | null; path: string; bytes: number; audioMs: number }>;
  manifest: { users: Array<{ id: string; spurts: Array<{ startMs: number; endMs: number }>; latePackets: number; concealedFrames: number }> } | null;
  /** [CLOCK_MONOTONIC ms, MB] samples. */
  memory: Array<{ t: number; rss: number; heapUsed: number; external: number; arrayBuffers: number }>;
  cpuMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as RecordingClientConfig;
const MB = 1048576;

/** Audio length of a WAV file from its header (48 kHz stereo s16le: 192 bytes per ms). */
function wavAudioMs(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    for (let at = 12; at + 8 <= n; ) {
      const id = head.toString('latin1', at, at + 4);
      const size = head.readUInt32LE(at + 4);
      if (id === 'data') return size / 192;
      at += 8 + size + (size & 1);
    }
    return NaN;
  } finally {
    fs.closeSync(fd);
  }
}

async function main(): Promise<void> {
  const rx = (await import('../src')) as typeof import('../src');
  const conn = rx.connectVoice({
    endpoint: config.endpoint,
    serverId: config.guildId,
    channelId: config.guildId,
    userId: config.userId,
    sessionId: `s-${config.userId}`,
    token: `t-${config.userId}`,
    dave: false,
  });
  await conn.ready(15_000);

  const memory: RecordingClientResult['memory'] = [];
  const sample = (): void => {
    const m = process.memoryUsage();
    memory.push({ t: monoMs(), rss: m.rss / MB, heapUsed: m.heapUsed / MB, external: m.external / MB, arrayBuffers: m.arrayBuffers / MB });
  };
  const cpuBefore = procCpuMs().selfMs;
  const until = new Subject<void>();
  let stoppedAt = 0;
  const startedAt = monoMs();
  const recording = lastValueFrom(rx.recordVoiceChannel(conn, { directory: config.directory, format: config.format, mix: true, until }));
  process.send!({ type: 'recording', startedAt });
  sample();
  const memoryTimer = setInterval(sample, config.memoryEveryMs);
  // The stop, on the wall clock (a timer may fire late; the measured length is what counts).
  const stopTimer = setTimeout(() => {
    stoppedAt = monoMs();
    until.next();
  }, config.durationMs);

  let error: string | null = null;
  let last: Awaited<typeof recording> | null = null;
  try {
    last = await recording;
  } catch (err) {
    error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  }
  clearTimeout(stopTimer);
  clearInterval(memoryTimer);
  sample();
  const cpuMs = procCpuMs().selfMs - cpuBefore;
  conn.destroy();

  const files = (last?.files ?? [])
    .filter((f) => f.kind !== 'metadata')
    .map((f) => ({
      kind: f.kind,
      userId: f.userId ?? null,
      path: f.path,
      bytes: f.bytes,
      audioMs: config.format === 'wav' ? wavAudioMs(f.path) : (f.durationMs ?? NaN),
    }));
  let manifest: RecordingClientResult['manifest'] = null;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(config.directory, 'recording.json'), 'utf8')) as RecordingClientResult['manifest'];
  } catch {
    // reported through `error` / missing files
  }
  const result: RecordingClientResult = {
    type: 'result',
    error,
    startedAt,
    stoppedAt,
    reportedMs: last?.durationMs ?? NaN,
    files,
    manifest,
    memory,
    cpuMs,
  };
  process.send!(result, () => process.exit(0));
}

main().catch((err: unknown) => {
  process.send?.({ type: 'result', error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1));
});
