/**
 * `npm run bench` / `npm run bench:smoke`: rxvoice and @discordjs/voice side by side against
 * the emulator (see bench/README.md for what is measured and how).
 *
 *   ts-node --transpile-only bench/run.ts [--smoke] [--only=passthrough,scale,…]
 *
 * The orchestrator (this process) only coordinates: it transpiles src/ and bench/ to plain
 * JS (bench/.tmp/js), makes the fixtures, starts the emulator in a child process and, for
 * every measurement, one fresh client child process per library, one after the other.
 * Results: bench/results/<scenario>.json and the table in bench/README.md (smoke runs write
 * to bench/results/tmp/ instead, and assert nothing about the numbers).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findFfmpeg } from '../src/sources/findFfmpeg';
import type { ClientConfig, ClientResult, DriverInfo } from './clientProcess';
import type { EmulatorReport, SpeakPlan } from './emulatorProcess';
import type { RecordingClientConfig, RecordingClientResult } from './recordingClient';
import { buildJs, JS_DIR } from './lib/build';
import { BENCH_DIR, monoMs, quantile, RESULTS_DIR, ROOT, round, slope, udpRcvbufErrors } from './lib/common';
import { mp3Clip, oggClip, oggHour, type Fixture } from './lib/fixtures';
import { frameStatsIn, runLavalinkNode, serveFile } from './lib/lavalinkDriver';
import { benchFfmpeg, childEnv, forkMeasured, runClient, startEmulator, type Emulator } from './lib/procs';
import { topSelfTime } from './lib/profile';
import { writeReport } from './lib/report';

type Lib = 'rxvoice' | 'djs';
const LIBS: Lib[] = ['rxvoice', 'djs'];

const smoke = process.argv.includes('--smoke');
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const only = onlyArg ? new Set(onlyArg.slice('--only='.length).split(',')) : null;
const outDir = smoke ? path.join(RESULTS_DIR, 'tmp') : RESULTS_DIR;
/** Length of the recording scenario: `--recording-minutes=60` for the hour figure (default 3; smoke: 8 s). */
const recordingMinutesArg = process.argv.find((a) => a.startsWith('--recording-minutes='));
const recordingMs = smoke ? 8_000 : Math.round(Number(recordingMinutesArg?.slice('--recording-minutes='.length) ?? 3) * 60_000);
const started = monoMs();
const log = (msg: string): void => console.log(`[bench ${((monoMs() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

let env: NodeJS.ProcessEnv;
let runCounter = 0;
/** Run ids are digits of equal length (user ids are `<run id><6 digits>`, snowflake-like for DAVE). */
const nextRunId = (): string => `9${String(++runCounter).padStart(4, '0')}`;

/** Aggregates of one client run, as stored in the results. */
export interface RunSummary {
  lib: Lib;
  /** rxvoice's voice-driver threads as asked for ('default': the driver, threads = cores; 0: in-process); null for djs. */
  threads: number | 'default' | null;
  /** rxvoice: how the client applied it and what the driver module says (`extra.driver`). */
  driver: DriverInfo | null;
  n: number;
  connected: number;
  finished: number;
  errors: string[];
  connectMs: number;
  /** Client CPU in the steady-state window, per stream per second of audio, ms. */
  cpuMsPerStreamSec: number;
  /** Same, per packet sent, µs. */
  cpuUsPerPacket: number;
  /** Whole playback, client process + its ffmpeg children, per stream per second of audio, ms. */
  totalCpuMsPerStreamSec: number;
  ffmpegCpuMsPerStreamSec: number;
  peakRssMb: number;
  /** |Δt − 20 ms| at the emulator inside the window, ms: all samples of all streams pooled. */
  pacing: { p50: number; p99: number; max: number; worstStreamP99: number; medianStreamP99: number; samples: number };
  /** Sequence gaps + audio packets of the file that never arrived. */
  lost: number;
  missingAudio: number;
  streamsSeen: number;
  decrypted: number;
  decryptFailures: number;
  emulatorCpuPct: number;
  udpRcvbufErrors: number;
  extra: Record<string, unknown>;
}

interface PlayOptions {
  scenario: string;
  lib: Lib;
  n: number;
  fixture: Fixture;
  kind?: 'ogg' | 'mp3';
  warmupMs?: number;
  tailMs?: number;
  dave?: boolean;
  pairs?: boolean;
  emulator: Emulator;
  execArgv?: string[];
  stopAfterMs?: number;
  rssEveryMs?: number;
  /** rxvoice's driver threads (absent: its default, the driver with threads = cores). */
  threads?: number;
  busy?: ClientConfig['busy'];
  /** mp3: rxvoice's Opus bitrate (default 96000) and extra ffmpeg input arguments. */
  bitrate?: number;
  ffmpegArgs?: string[];
  /** With `stopAfterMs`: stop the streams when it elapses (their ffmpeg children exit). */
  stopStreamsAtEnd?: boolean;
  /** mp3, rxvoice: `ClientConfig.input.pipeline`. */
  pipeline?: 'sink' | 'player';
}

async function play(o: PlayOptions): Promise<{ summary: RunSummary; result: ClientResult; report: EmulatorReport }> {
  const runId = nextRunId();
  const config: ClientConfig = {
    lib: o.lib,
    runId,
    endpoint: o.emulator.endpoint,
    n: o.n,
    input: { kind: o.kind ?? 'ogg', path: o.fixture.path, durationMs: o.fixture.durationMs, bitrate: o.bitrate, ffmpegArgs: o.ffmpegArgs, pipeline: o.pipeline },
    mode: 'together',
    stopStreamsAtEnd: o.stopStreamsAtEnd,
    warmupMs: o.warmupMs ?? (smoke ? 300 : 2000),
    tailMs: o.tailMs ?? (smoke ? 200 : 1000),
    dave: o.dave ?? false,
    pairs: o.pairs,
    stopAfterMs: o.stopAfterMs,
    rssEveryMs: o.rssEveryMs,
    settleMs: smoke ? 100 : 500,
    threads: o.lib === 'rxvoice' ? o.threads : undefined,
    busy: o.busy,
  };
  const rcvbuf0 = udpRcvbufErrors();
  const run = await runClient(config, env, o.execArgv ?? [], (o.stopAfterMs ?? o.fixture.durationMs) + 240_000);
  if (!run.result) throw new Error(`${o.lib} client (N=${o.n}) exited with ${run.exitCode} and no result: ${run.stderr.trim().slice(-600)}`);
  const r = run.result;
  const report = await o.emulator.report(runId, r.window);
  await o.emulator.reset();
  const windowMs = r.window && r.window.end > r.window.start ? r.window.end - r.window.start : NaN;
  const audioSeconds = (o.stopAfterMs ?? o.fixture.durationMs) / 1000;
  const expected = o.stopAfterMs === undefined && o.fixture.packets > 0 ? o.fixture.packets : 0;
  const summary: RunSummary = {
    lib: o.lib,
    threads: o.lib === 'rxvoice' ? (o.threads ?? 'default') : null,
    driver: (r.extra.driver as DriverInfo | undefined) ?? null,
    n: o.n,
    connected: r.connected,
    finished: r.finished,
    errors: r.errors.slice(0, 3),
    connectMs: round(r.connectMs, 0),
    cpuMsPerStreamSec: round(r.cpuMsInWindow / o.n / (windowMs / 1000)),
    cpuUsPerPacket: round((r.cpuMsInWindow * 1000) / (o.n * (windowMs / 20)), 2),
    totalCpuMsPerStreamSec: round((r.playCpuSelfMs + r.playCpuChildrenMs) / o.n / audioSeconds),
    ffmpegCpuMsPerStreamSec: round(r.playCpuChildrenMs / o.n / audioSeconds),
    peakRssMb: round(r.peakRssMb, 1),
    pacing: pacingOf(report),
    lost: report.streams.reduce((a, s) => a + s.lost, 0),
    missingAudio: expected ? report.streams.reduce((a, s) => a + Math.max(0, expected - s.audioFrames), 0) + (o.n - report.streams.length) * expected : 0,
    streamsSeen: report.streams.length,
    decrypted: report.decrypted,
    decryptFailures: report.decryptFailures,
    emulatorCpuPct: round(report.emulatorCpuPct, 1),
    udpRcvbufErrors: udpRcvbufErrors() - rcvbuf0,
    extra: Object.fromEntries(Object.entries(r.extra).filter(([k]) => k !== 'driver')),
  };
  const p = summary.pacing;
  const variant = o.lib === 'rxvoice' && o.threads !== undefined ? `rxvoice/t${o.threads}` : o.lib;
  log(
    `${o.scenario} ${variant.padEnd(7)} N=${String(o.n).padEnd(4)} cpu ${summary.cpuMsPerStreamSec} ms/stream/s` +
      ` (total ${summary.totalCpuMsPerStreamSec}), pacing p50 ${p.p50} p99 ${p.p99} max ${p.max} ms, lost ${summary.lost}` +
      `, missing ${summary.missingAudio}, rss ${summary.peakRssMb} MB, emu ${summary.emulatorCpuPct} %` +
      (summary.errors.length ? `, errors: ${summary.errors.join(' | ')}` : ''),
  );
  return { summary, result: r, report };
}

/** Pacing at the emulator, as stored in the results (all streams' samples pooled; per-stream p99s). */
function pacingOf(report: EmulatorReport): RunSummary['pacing'] {
  const streamP99 = report.streams.map((s) => s.p99).sort((a, b) => a - b);
  return {
    p50: round(report.pooled.p50),
    p99: round(report.pooled.p99),
    max: round(report.pooled.max),
    worstStreamP99: round(streamP99.length ? streamP99[streamP99.length - 1] : 0),
    medianStreamP99: round(quantile(streamP99, 0.5)),
    samples: report.pooled.count,
  };
}

/** Whether a run holds the scale criterion: all connected and finished, p99 ≤ 5 ms, nothing lost. */
function holds(s: RunSummary): boolean {
  return s.connected === s.n && s.finished === s.n && s.pacing.p99 <= 5 && s.lost === 0 && s.missingAudio === 0 && s.errors.length === 0;
}

/** One run of the `lavalink` scenario (the node, or the library in one process). */
interface LavalinkRun {
  variant: 'node' | 'library' | 'library-player';
  n: number;
  /** 0, 1: runs of the same variant and N. */
  repeat: number;
  connected: number;
  /** node: TrackStartEvents; library: streams that played to the stop. */
  started: number;
  errors: string[];
  connectMs: number;
  windowMs: number;
  /** The measurement window, monotonic ms (CLOCK_MONOTONIC, as the emulator's timestamps). */
  window: { start: number; end: number } | null;
  /** The process (all threads), in the window, per player per second, ms. */
  cpuMsPerPlayerSec: number;
  /** The same plus its ffmpeg children in the same window. */
  cpuInclFfmpegMsPerPlayerSec: number;
  ffmpegCpuMsPerPlayerSec: number;
  peakRssMb: number;
  pacing: RunSummary['pacing'];
  lost: number;
  streamsSeen: number;
  /** Packets that arrived in the window at the emulator (pacing samples) / N × window ÷ 20 ms: 1 when real time is kept. */
  packetsInWindowRatio: number;
  decrypted: number;
  decryptFailures: number;
  emulatorCpuPct: number;
  udpRcvbufErrors: number;
  /**
   * Frames per player per minute in the playback, as Lavalink's frameStats: audio frames sent,
   * nulled (a tick with no frame: underrun), deficit (3000 − both). node: the mean of its
   * `stats` ops' frameStats over the periods inside the playback (from 1 s after the tracks
   * were sent); library: the streams' progress counters in the CPU window.
   */
  frames: { sent: number; nulled: number; deficit: number } | null;
  /** node: the `stats` ops' frameStats per period. */
  frameStats: ReturnType<typeof frameStatsIn> | null;
  extra: Record<string, unknown>;
}

/** The runs of one variant and N together: CPU and frames the mean, pacing and RSS the worst, loss the sum. */
interface LavalinkVariant {
  variant: LavalinkRun['variant'];
  n: number;
  runs: number;
  /** Every run kept real time (`keepsRealTime`). */
  keepsRealTime: boolean;
  connected: number;
  started: number;
  errors: string[];
  cpuMsPerPlayerSec: number;
  cpuInclFfmpegMsPerPlayerSec: number;
  ffmpegCpuMsPerPlayerSec: number;
  peakRssMb: number;
  pacing: { p50: number; p99: number; max: number; worstStreamP99: number };
  lost: number;
  packetsInWindowRatio: number;
  frames: LavalinkRun['frames'];
  emulatorCpuPct: number;
  /** The N tracks sent at once → the last stream's first packet at the emulator, ms (worst run). */
  allStartedMs: number | null;
}

/** A run's time from the tracks sent to the last stream's first packet, ms (`extra.firstPacketMs.max`), or null. */
function firstPacketMax(r: LavalinkRun): number | null {
  const f = r.extra.firstPacketMs as { max?: number } | null | undefined;
  return typeof f?.max === 'number' ? f.max : null;
}

function aggregateLavalink(runs: LavalinkRun[]): LavalinkVariant {
  const mean = (f: (r: LavalinkRun) => number): number => round(runs.reduce((a, r) => a + f(r), 0) / runs.length);
  const max = (f: (r: LavalinkRun) => number): number => Math.max(...runs.map(f));
  const min = (f: (r: LavalinkRun) => number): number => Math.min(...runs.map(f));
  const withFrames = runs.filter((r) => r.frames);
  const fMean = (f: (x: NonNullable<LavalinkRun['frames']>) => number): number => Math.round(withFrames.reduce((a, r) => a + f(r.frames!), 0) / withFrames.length);
  return {
    variant: runs[0].variant,
    n: runs[0].n,
    runs: runs.length,
    keepsRealTime: runs.every(keepsRealTime),
    connected: min((r) => r.connected),
    started: min((r) => r.started),
    errors: runs.flatMap((r) => r.errors).slice(0, 3),
    cpuMsPerPlayerSec: mean((r) => r.cpuMsPerPlayerSec),
    cpuInclFfmpegMsPerPlayerSec: mean((r) => r.cpuInclFfmpegMsPerPlayerSec),
    ffmpegCpuMsPerPlayerSec: mean((r) => r.ffmpegCpuMsPerPlayerSec),
    peakRssMb: max((r) => r.peakRssMb),
    pacing: { p50: max((r) => r.pacing.p50), p99: max((r) => r.pacing.p99), max: max((r) => r.pacing.max), worstStreamP99: max((r) => r.pacing.worstStreamP99) },
    lost: runs.reduce((a, r) => a + r.lost, 0),
    packetsInWindowRatio: min((r) => r.packetsInWindowRatio),
    frames: withFrames.length ? { sent: fMean((x) => x.sent), nulled: fMean((x) => x.nulled), deficit: fMean((x) => x.deficit) } : null,
    emulatorCpuPct: max((r) => r.emulatorCpuPct),
    allStartedMs: runs.every((r) => firstPacketMax(r) !== null) ? max((r) => firstPacketMax(r)!) : null,
  };
}

/** Start of playback → each stream's first packet at the emulator, ms: median and max (streams that sent any). */
function firstPackets(report: EmulatorReport, start: number): { p50: number; max: number; streams: number } {
  const d = report.streams.map((s) => s.firstArrival - start).sort((a, b) => a - b);
  return { p50: round(quantile(d, 0.5), 0), max: round(d.length ? d[d.length - 1] : NaN, 0), streams: d.length };
}

function cpuFigures(selfMs: number, childrenMs: number, n: number, windowMs: number): Pick<LavalinkRun, 'cpuMsPerPlayerSec' | 'cpuInclFfmpegMsPerPlayerSec' | 'ffmpegCpuMsPerPlayerSec'> {
  const per = (ms: number): number => round(ms / n / (windowMs / 1000));
  return { cpuMsPerPlayerSec: per(selfMs), cpuInclFfmpegMsPerPlayerSec: per(selfMs + childrenMs), ffmpegCpuMsPerPlayerSec: per(childrenMs) };
}

function emulatorFigures(
  report: EmulatorReport,
  n: number,
  windowMs: number,
  rcvbuf0: number,
): Pick<LavalinkRun, 'pacing' | 'lost' | 'streamsSeen' | 'packetsInWindowRatio' | 'decrypted' | 'decryptFailures' | 'emulatorCpuPct' | 'udpRcvbufErrors'> {
  return {
    pacing: pacingOf(report),
    lost: report.streams.reduce((a, s) => a + s.lost, 0),
    streamsSeen: report.streams.length,
    packetsInWindowRatio: round(report.pooled.count / (n * (windowMs / 20)), 4),
    decrypted: report.decrypted,
    decryptFailures: report.decryptFailures,
    emulatorCpuPct: round(report.emulatorCpuPct, 1),
    udpRcvbufErrors: udpRcvbufErrors() - rcvbuf0,
  };
}

/** Frame counts of all N players in a window as Lavalink's frameStats: per player per minute. */
function perMinute(c: { sent: number; underruns: number } | undefined, n: number, windowMs: number): LavalinkRun['frames'] {
  if (!c || !(windowMs > 0)) return null;
  const scale = 60_000 / windowMs / n;
  const sent = Math.round(c.sent * scale);
  const nulled = Math.round(c.underruns * scale);
  return { sent, nulled, deficit: 3000 - sent - nulled };
}

/**
 * p99 ≤ 5 ms, nothing lost, ≥ 99 % of the window's packets at the emulator, no frame nulled
 * (underrun); the node's frameStats deficit ≤ 30 per player per minute (1 %). The library's
 * deficit is not judged: its counters come from progress events, one per second of audio per
 * stream, so a window's count is off by up to 50 frames per stream when a stream's event falls
 * on the window's edge under timer jitter (the node's stats periods are whole seconds of a
 * steady interval timer; the packet ratio covers the library).
 */
function keepsRealTime(r: LavalinkRun): boolean {
  const frames = r.frames;
  return (
    r.connected === r.n &&
    r.started === r.n &&
    r.errors.length === 0 &&
    r.pacing.p99 <= 5 &&
    r.lost === 0 &&
    r.packetsInWindowRatio >= 0.99 &&
    frames !== null &&
    frames.nulled === 0 &&
    (r.variant !== 'node' || frames.deficit <= 30)
  );
}

function logLavalink(r: LavalinkRun): void {
  const p = r.pacing;
  const f = r.frames;
  log(
    `lavalink ${r.variant.padEnd(7)} N=${String(r.n).padEnd(4)} cpu ${r.cpuMsPerPlayerSec} ms/player/s (incl. ffmpeg ${r.cpuInclFfmpegMsPerPlayerSec}), pacing p50 ${p.p50} p99 ${p.p99} max ${p.max} ms` +
      `, lost ${r.lost}, packets ${r.packetsInWindowRatio}, rss ${r.peakRssMb} MB, emu ${r.emulatorCpuPct} %, first packet ${JSON.stringify(r.extra.firstPacketMs)}` +
      (f ? `, frames/player/min sent ${f.sent} nulled ${f.nulled} deficit ${f.deficit}` : '') +
      (r.errors.length ? `, errors: ${r.errors.join(' | ')}` : ''),
  );
}

function writeJson(name: string, data: unknown): void {
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, `${name}.json`), `${JSON.stringify(data, null, 2)}\n`);
}

function readJson(name: string): unknown {
  try {
    return JSON.parse(fs.readFileSync(path.join(outDir, `${name}.json`), 'utf8')) as unknown;
  } catch {
    return null;
  }
}

function environment(): Record<string, unknown> {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  const model = /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const pkg = (p: string): string => (JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', p, 'package.json'), 'utf8')) as { version: string }).version;
  const libopus = /PACKAGE_VERSION="([^"]+)"/.exec(
    fs.readFileSync(path.join(ROOT, 'node_modules/@discordjs/opus/deps/opus/package_version'), 'utf8'),
  )?.[1];
  let ffmpegVersion = 'unknown';
  try {
    ffmpegVersion = /ffmpeg version (\S+)/.exec(execFileSync(findFfmpeg(), ['-version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  } catch {
    // reported as unknown
  }
  return {
    date: new Date().toISOString(),
    cores: os.cpus().length,
    cpu: model,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    load: os.loadavg().map((l) => round(l, 2)),
    rxvoice: (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    discordjsVoice: pkg('@discordjs/voice'),
    libopus: `${libopus} (@discordjs/opus ${pkg('@discordjs/opus')})`,
    davey: pkg('@snazzah/davey'),
    prismMedia: pkg('prism-media'),
    ffmpeg: `${ffmpegVersion} (${path.relative(ROOT, findFfmpeg()) || findFfmpeg()})`,
    smoke,
  };
}

interface MaxStreamsOptions {
  scenario: string;
  kind: 'ogg' | 'mp3';
  fixture: Fixture;
  /** The first N; then `up` while steps hold, or `down` (until one holds) if it fails. */
  first: number;
  up: number[];
  down: number[];
  /** Wall time per library after which no further step starts. */
  budgetMs: number;
  /** Runs to reuse (same input and method) instead of running that N again. */
  previous: RunSummary[];
  previousSource: string;
}

/**
 * The largest N (per library) whose run holds the scale criterion (`holds`): `first`, then
 * up a ladder until a step fails, or down one until a step holds; a failed step is run once
 * more (other load on the machine can spoil one run); bounded in time per library; stops
 * when the emulator uses > 90 % of a core. rxvoice runs with its default driver.
 */
async function maxStreams(emulator: Emulator, o: MaxStreamsOptions): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { threads: { rxvoice: 'default' } };
  type Step = { n: number; holds: boolean; p99: number; lost: number; missing: number; cpuMsPerStreamSec: number; emulatorCpuPct: number; errors: string[]; source: string };
  const clip = `${o.fixture.durationMs / 1000} s`;
  for (const lib of LIBS) {
    const tried: Step[] = [];
    const t0 = monoMs();
    const record = (n: number, s: RunSummary, source: string): Step => {
      const st: Step = { n, holds: holds(s), p99: s.pacing.p99, lost: s.lost, missing: s.missingAudio, cpuMsPerStreamSec: s.cpuMsPerStreamSec, emulatorCpuPct: s.emulatorCpuPct, errors: s.errors, source };
      tried.push(st);
      return st;
    };
    const step = async (n: number): Promise<Step> => {
      const reused = o.previous.find((r) => r.lib === lib && r.n === n);
      let st = reused
        ? record(n, reused, o.previousSource)
        : record(n, (await play({ scenario: o.scenario, lib, n, fixture: o.fixture, kind: o.kind, emulator })).summary, clip);
      if (!st.holds && !smoke) st = record(n, (await play({ scenario: o.scenario, lib, n, fixture: o.fixture, kind: o.kind, emulator })).summary, `${clip}, second try`);
      return st;
    };
    let best = 0;
    let stopReason = 'every step held';
    const first = await step(o.first);
    const ladder = first.holds ? o.up : o.down;
    if (first.holds) best = first.n;
    for (const n of ladder) {
      if (monoMs() - t0 > o.budgetMs) {
        stopReason = `time budget (${o.budgetMs / 1000} s) used`;
        break;
      }
      const st = await step(n);
      if (first.holds && !st.holds) {
        stopReason = `N=${n} failed`;
        break;
      }
      if (st.holds) {
        best = Math.max(best, n);
        if (!first.holds) {
          stopReason = `N=${o.first} failed; N=${n} held`;
          break;
        }
      }
      if (st.emulatorCpuPct > 90) {
        stopReason = `emulator saturated at N=${n} (${st.emulatorCpuPct} % of a core)`;
        break;
      }
    }
    if (!first.holds && best === 0 && stopReason === 'every step held') stopReason = `no N down to ${tried[tried.length - 1].n} held`;
    out[lib] = { maxStreams: best, stopReason, tried };
    log(`${o.scenario} ${lib}: max ${best} (${stopReason})`);
  }
  return out;
}

/** Scenarios that ran (and wrote their JSON) in this invocation. */
const ranThisInvocation = new Set<string>();

// ---- scenarios -------------------------------------------------------------------------------

const scenarios: Array<{ name: string; run: (emulator: Emulator) => Promise<unknown> }> = [
  {
    name: 'micro',
    run: async () => {
      const micro = (args: string[], execArgv: string[] = []): unknown => {
        const r = spawnSync(process.execPath, [...execArgv, path.join(JS_DIR, 'bench', 'micro.js'), ...args], {
          env: { ...env, BENCH_QUICK: smoke ? '1' : '0' },
          encoding: 'utf8',
          timeout: 120_000,
        });
        if (r.status !== 0) throw new Error(`micro ${args.join(' ')} failed: ${r.stderr}`);
        return JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown;
      };
      const seal = micro(['seal']) as { rxvoice: { aes: number; xchacha: number }; djs: { aes: number } };
      const djsX = micro(['djs-xchacha'], ['--import', pathToFileUrl(path.join(ROOT, 'test/conformance/blockSodium.mjs'))]) as { djs: { xchacha: number } };
      const tick = micro(['tick', smoke ? '1,10' : '1,100,500']);
      const send = micro(['send']) as { sendUs: number };
      const out = {
        sealUs: { rxvoice: seal.rxvoice, djs: { ...seal.djs, xchacha: djsX.djs.xchacha, xchachaLibrary: '@noble/ciphers (sodium-native@5 blocked)' } },
        tick,
        udpSendUs: send.sendUs,
      };
      log(`micro: seal ${JSON.stringify(out.sealUs)} tick ${JSON.stringify(tick)} udp send ${send.sendUs} µs`);
      return out;
    },
  },
  {
    name: 'filters',
    run: async () => {
      // CPU µs per 20 ms frame of every filter and of Lavalink's full chain (bench/filters.ts, own process).
      const r = spawnSync(process.execPath, [path.join(JS_DIR, 'bench', 'filters.js')], {
        env: { ...env, BENCH_QUICK: smoke ? '1' : '0' },
        encoding: 'utf8',
        timeout: 300_000,
      });
      if (r.status !== 0) throw new Error(`filters bench failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { perFilter: Array<{ filter: string; usPerFrame: number }>; fullChain: { usPerFrame: number } };
      log(`filters: full chain ${out.fullChain.usPerFrame} µs/frame; ${out.perFilter.map((f) => `${f.filter} ${f.usPerFrame}`).join(', ')}`);
      return out;
    },
  },
  {
    name: 'passthrough',
    run: async (emulator) => {
      const plan: Array<[number, number]> = process.env.BENCH_PASSTHROUGH_PLAN // "N:seconds,…" (development)
        ? process.env.BENCH_PASSTHROUGH_PLAN.split(',').map((x) => x.split(':').map(Number) as [number, number])
        : smoke
          ? [[2, 1]]
          : [[1, 10], [100, 20], [500, 20]];
      const runs: RunSummary[] = [];
      for (const [n, seconds] of plan) {
        const fixture = await oggClip(seconds);
        for (const lib of LIBS) runs.push((await play({ scenario: 'passthrough', lib, n, fixture, emulator })).summary);
      }
      return { runs };
    },
  },
  {
    name: 'scale',
    run: async (emulator) => {
      // The largest N that holds p99 ≤ 5 ms and zero loss: up from N=100 (the passthrough run,
      // 20 s) in steps of 10 s of audio (reusing the passthrough N=500 run when the ladder
      // reaches it), or down from 100 if that already fails; bounded in time per library.
      return maxStreams(emulator, {
        scenario: 'scale',
        kind: 'ogg',
        fixture: await oggClip(smoke ? 1 : 10),
        first: smoke ? 2 : 100,
        up: smoke ? [] : [200, 300, 400, 500, 650, 800, 1000, 1250, 1500, 2000],
        down: smoke ? [] : [50, 25, 10],
        budgetMs: smoke ? 30_000 : 100_000,
        previous: smoke ? [] : ((readJson('passthrough') as { runs?: RunSummary[] } | null)?.runs ?? []),
        previousSource: 'passthrough run (20 s)',
      });
    },
  },
  {
    name: 'transcode',
    run: async (emulator) => {
      const fixture = await mp3Clip(smoke ? 1 : 10);
      const runs: RunSummary[] = [];
      for (const n of smoke ? [1] : [1, 10, 25]) {
        for (const lib of LIBS) runs.push((await play({ scenario: 'transcode', lib, n, fixture, kind: 'mp3', emulator })).summary);
      }
      return { runs, note: 'rxvoice: ffmpegSource(mp3).pipe(opusEncode({ bitrate: 96000 }), voiceSink(conn)); djs: createAudioResource(mp3) (ffmpeg → Ogg Opus via libopus at ffmpeg’s default 96 kb/s when ffmpeg has libopus, else ffmpeg → PCM → prism Opus encoder)' };
    },
  },
  {
    name: 'transcode-scale',
    run: async (emulator) => {
      // Max streams for transcode (mp3 → Opus), the method of `scale` on a coarser ladder:
      // from N=10 up (15, 20, 25, 35, 50, 75, 100, 150) or down (5, 2, 1), 10 s of mp3 per run,
      // reusing the transcode scenario's runs of this invocation (N=1, 10, 25).
      const previous = ranThisInvocation.has('transcode') ? ((readJson('transcode') as { runs?: RunSummary[] } | null)?.runs ?? []) : [];
      return maxStreams(emulator, {
        scenario: 'transcode-scale',
        kind: 'mp3',
        fixture: await mp3Clip(smoke ? 1 : 10),
        first: smoke ? 1 : 10,
        up: smoke ? [] : [15, 20, 25, 35, 50, 75, 100, 150],
        down: smoke ? [] : [5, 2, 1],
        budgetMs: smoke ? 30_000 : 80_000,
        previous: smoke ? [] : previous,
        previousSource: 'transcode run (10 s)',
      });
    },
  },
  {
    name: 'lavalink',
    run: async (emulator) => {
      // N players on one rxvoice Lavalink node (its own process, driven over its WebSocket and
      // REST API by bench/lib/lavalinkDriver.ts), each playing the same ~1 min mp3 over http, vs
      // the same N streams through the library in one client process. See bench/README.md (j).
      // N=25 (where both keep real time on 2 cores) twice, in the order node, library, library,
      // node (drift of the machine's other load cancels out); N=100 (the issue's) once.
      const fixture = await mp3Clip(smoke ? 5 : 60);
      const playMs = Number(process.env.BENCH_LAVALINK_PLAY_MS) || (smoke ? 3000 : 20_000); // (override: development)
      const warmupMs = smoke ? 1000 : 3000;
      const tailMs = smoke ? 300 : 1000;
      const statsIntervalMs = smoke ? 1000 : 5000;
      const plan: Array<{ n: number; repeats: 1 | 2 }> = process.env.BENCH_LAVALINK_PLAN // "N:repeats,…" (development)
        ? process.env.BENCH_LAVALINK_PLAN.split(',').map((x) => {
            const [n, k] = x.split(':').map(Number);
            return { n, repeats: k === 2 ? 2 : 1 };
          })
        : smoke
          ? [{ n: 2, repeats: 1 }]
          : [
              { n: 25, repeats: 2 },
              { n: 100, repeats: 1 },
            ];
      // What the node does with an http track: ffmpeg with reconnect options, opusEncode() (64 kb/s).
      const ffmpegArgs = ['-reconnect', '1', '-reconnect_streamed', '1', '-reconnect_delay_max', '2'];
      const bitrate = 64_000;
      const media = await serveFile(fixture.path);

      const nodeRun = async (n: number, repeat: number): Promise<LavalinkRun> => {
        const runId = nextRunId();
        const rcvbuf0 = udpRcvbufErrors();
        const r = await runLavalinkNode({
          env,
          endpoint: emulator.endpoint,
          runId,
          n,
          url: media.url,
          playMs,
          warmupMs,
          tailMs,
          statsIntervalMs,
          settleMs: smoke ? 100 : 500,
          execArgv: process.env.BENCH_LAVALINK_NODE_ARGS?.split(' ').filter(Boolean), // (development, e.g. --cpu-prof)
        });
        const report = await emulator.report(runId, r.window);
        await emulator.reset();
        const windowMs = r.window ? r.window.end - r.window.start : NaN;
        // frameStats periods from 1 s after the track PATCHes (the first frames) to the window's end.
        const frames = frameStatsIn(r.stats, (r.window?.start ?? 0) - warmupMs + 1000, r.window?.end ?? 0);
        const loads = r.stats.filter((x) => r.window && x.t > r.window.start && x.t <= r.window.end).map((x) => x.lavalinkLoad);
        const run: LavalinkRun = {
          variant: 'node',
          n,
          repeat,
          connected: r.connected,
          started: r.started,
          errors: r.errors.slice(0, 3),
          connectMs: round(r.connectMs, 0),
          windowMs: round(windowMs, 0),
          window: r.window,
          ...cpuFigures(r.cpuMsInWindow, r.childrenCpuMsInWindow, n, windowMs),
          peakRssMb: round(r.peakRssMb, 1),
          ...emulatorFigures(report, n, windowMs, rcvbuf0),
          frames: frames.mean,
          frameStats: frames,
          extra: {
            firstPacketMs: firstPackets(report, r.start),
            trackPatchAnswerMs: r.trackAnswerMs && { p50: round(r.trackAnswerMs.p50, 0), max: round(r.trackAnswerMs.max, 0) },
            trackStartMs: r.trackStartMs && { p50: round(r.trackStartMs.p50, 0), max: round(r.trackStartMs.max, 0) },
            events: r.events,
            liveFfmpegInWindow: r.liveChildrenInWindow,
            lavalinkLoadInWindow: loads.map((l) => round(l, 3)),
          },
        };
        logLavalink(run);
        return run;
      };
      // The library: ffmpegSource(url) → opusEncode() → voiceSink(conn), N in one process
      // (`player`: the node's player pipeline, development only, see below).
      const libraryRun = async (n: number, repeat: number, pipeline: 'sink' | 'player' = 'sink'): Promise<LavalinkRun> => {
        const { summary, result, report } = await play({
          scenario: 'lavalink',
          lib: 'rxvoice',
          n,
          fixture: { path: media.url, durationMs: fixture.durationMs, packets: 0 },
          kind: 'mp3',
          bitrate,
          ffmpegArgs,
          pipeline,
          stopAfterMs: playMs,
          stopStreamsAtEnd: true,
          warmupMs,
          tailMs,
          emulator,
          execArgv: process.env.BENCH_LAVALINK_CLIENT_ARGS?.split(' ').filter(Boolean), // (development, e.g. --cpu-prof)
        });
        const windowMs = result.window ? result.window.end - result.window.start : NaN;
        const run: LavalinkRun = {
          variant: pipeline === 'sink' ? 'library' : 'library-player',
          n,
          repeat,
          connected: summary.connected,
          started: summary.finished,
          errors: summary.errors,
          connectMs: summary.connectMs,
          windowMs: round(windowMs, 0),
          window: result.window,
          ...cpuFigures(result.cpuMsInWindow, result.childrenCpuMsInWindow, n, windowMs),
          peakRssMb: summary.peakRssMb,
          pacing: summary.pacing,
          lost: summary.lost,
          streamsSeen: summary.streamsSeen,
          packetsInWindowRatio: round(summary.pacing.samples / (n * (windowMs / 20)), 4),
          decrypted: summary.decrypted,
          decryptFailures: summary.decryptFailures,
          emulatorCpuPct: summary.emulatorCpuPct,
          udpRcvbufErrors: summary.udpRcvbufErrors,
          frames: perMinute(summary.extra.framesInWindow as { sent: number; underruns: number } | undefined, n, windowMs),
          frameStats: null,
          extra: {
            firstPacketMs: result.window ? firstPackets(report, result.window.start - warmupMs) : null,
            framesSent: summary.extra.framesSent,
            underruns: summary.extra.underruns,
            framesLate: summary.extra.framesLate,
            driver: summary.driver,
          },
        };
        logLavalink(run);
        return run;
      };

      const runs: LavalinkRun[] = [];
      const variants: LavalinkVariant[] = [];
      const overhead: Array<Record<string, unknown>> = [];
      const ratio = (a: number, b: number): number => round(a / b - 1, 3);
      try {
        for (const { n, repeats } of plan) {
          const order: Array<'node' | 'library'> = repeats === 2 ? ['node', 'library', 'library', 'node'] : ['node', 'library'];
          const seen = { node: 0, library: 0 };
          for (const v of order) runs.push(v === 'node' ? await nodeRun(n, seen.node++) : await libraryRun(n, seen.library++));
          const node = aggregateLavalink(runs.filter((r) => r.n === n && r.variant === 'node'));
          const lib = aggregateLavalink(runs.filter((r) => r.n === n && r.variant === 'library'));
          variants.push(node, lib);
          overhead.push({
            n,
            repeats,
            processOnly: ratio(node.cpuMsPerPlayerSec, lib.cpuMsPerPlayerSec),
            inclFfmpeg: ratio(node.cpuInclFfmpegMsPerPlayerSec, lib.cpuInclFfmpegMsPerPlayerSec),
            // Each pair of runs on its own (node run k vs library run k).
            perPair: Array.from({ length: repeats }, (_, k) => {
              const a = runs.find((r) => r.n === n && r.variant === 'node' && r.repeat === k)!;
              const b = runs.find((r) => r.n === n && r.variant === 'library' && r.repeat === k)!;
              return { processOnly: ratio(a.cpuMsPerPlayerSec, b.cpuMsPerPlayerSec), inclFfmpeg: ratio(a.cpuInclFfmpegMsPerPlayerSec, b.cpuInclFfmpegMsPerPlayerSec) };
            }),
            bothRealTime: node.keepsRealTime && lib.keepsRealTime,
          });
          log(`lavalink N=${n}: node overhead ${JSON.stringify(overhead[overhead.length - 1])}`);
          if (process.env.BENCH_LAVALINK_PLAYER === '1') {
            // (development) The node's player pipeline in the library, without the node: splits
            // the overhead into the player + filters/volume part and the Lavalink layer's part.
            const lp = await libraryRun(n, 0, 'player');
            runs.push(lp);
            overhead[overhead.length - 1].playerPipeline = {
              vsSink: { processOnly: ratio(lp.cpuMsPerPlayerSec, lib.cpuMsPerPlayerSec), inclFfmpeg: ratio(lp.cpuInclFfmpegMsPerPlayerSec, lib.cpuInclFfmpegMsPerPlayerSec) },
              nodeVsIt: { processOnly: ratio(node.cpuMsPerPlayerSec, lp.cpuMsPerPlayerSec), inclFfmpeg: ratio(node.cpuInclFfmpegMsPerPlayerSec, lp.cpuInclFfmpegMsPerPlayerSec) },
            };
            log(`lavalink N=${n}: player pipeline ${JSON.stringify(overhead[overhead.length - 1].playerPipeline)}`);
          }
        }
      } finally {
        await media.close();
      }
      return {
        clipSeconds: fixture.durationMs / 1000,
        playMs,
        warmupMs,
        tailMs,
        statsIntervalMs,
        plan,
        variants,
        overhead,
        runs,
        note:
          'node: rxvoice Lavalink node (startLavalinkNode, own process, default driver), one session over a raw ws WebSocket; PATCH voice for every player, wait until connected, then PATCH { track: { encoded } } for all at once; ' +
          'the node plays ffmpegSource(url, reconnect args) → filters() → volume() → opusEncode() (64 kb/s) in createPlayer (leadMs 400). ' +
          'library: rxvoice client process, ffmpegSource(url, same args) → opusEncode({ bitrate: 64000 }) → voiceSink(conn). Same mp3 over http from the orchestrator, played for playMs of its length. ' +
          'variants: runs of the same variant and N together (CPU, frames: mean; pacing, RSS: worst; loss: sum).',
      };
    },
  },
  {
    name: 'busy',
    run: async (emulator) => {
      // Busy bot: N passthrough streams while the client's main thread spins `blockMs` of every
      // `periodMs` (a synchronous loop on a setInterval, from the start of playback to its end).
      // rxvoice twice: its default driver (threads = cores) and threads 0 (in-process).
      const busy = { periodMs: 40, blockMs: 15 };
      const n = smoke ? 2 : 50;
      const fixture = await oggClip(smoke ? 1 : 10);
      const variants: Array<{ variant: string; label: string; lib: Lib; threads?: number }> = [
        { variant: 'rxvoice-driver', label: 'rxvoice (driver)', lib: 'rxvoice' },
        { variant: 'rxvoice-threads0', label: 'rxvoice (threads 0)', lib: 'rxvoice', threads: 0 },
        { variant: 'djs', label: '@discordjs/voice', lib: 'djs' },
      ];
      const runs: Array<RunSummary & Record<string, unknown>> = [];
      for (const v of variants) {
        const { summary, result } = await play({ scenario: 'busy', lib: v.lib, threads: v.threads, n, fixture, emulator, busy });
        const windowMs = result.window && result.window.end > result.window.start ? result.window.end - result.window.start : NaN;
        const b = result.extra.busy as { blocks: number; blockedMsInWindow: number; spinCpuMsInWindow: number; phases: number[] } | undefined;
        const extra = {
          variant: v.variant,
          label: v.label,
          // The whole client process (all threads), busy loop included, % of one core.
          clientCpuPctOfCore: round((result.cpuMsInWindow / windowMs) * 100, 1),
          // The busy loop's own CPU (main thread's CPU while spinning), % of one core.
          busyLoopCpuPctOfCore: round(((b?.spinCpuMsInWindow ?? 0) / windowMs) * 100, 1),
          // The client without the loop's spinning, per stream.
          cpuMsPerStreamSecExclBusy: round((result.cpuMsInWindow - (b?.spinCpuMsInWindow ?? 0)) / n / (windowMs / 1000)),
          // Fraction of the window the main thread was blocked, wall time (expected: blockMs / periodMs).
          blockedFraction: round((b?.blockedMsInWindow ?? 0) / windowMs, 3),
          busyBlocks: b?.blocks ?? 0,
          busyPhases: b?.phases ?? [],
        };
        log(
          `busy ${v.label}: client ${extra.clientCpuPctOfCore} % of a core (loop ${extra.busyLoopCpuPctOfCore} %), ${extra.cpuMsPerStreamSecExclBusy} ms/stream/s excl. the loop,` +
            ` blocked ${extra.blockedFraction} of the window, block phases ${JSON.stringify(extra.busyPhases)}`,
        );
        runs.push({ ...summary, ...extra });
      }
      return {
        busy,
        n,
        clipSeconds: fixture.durationMs / 1000,
        runs,
        note: 'main thread blocked by a synchronous busy loop of blockMs on a setInterval(periodMs) in the client process, from the start of playback to its end; passthrough (Ogg Opus) as in the passthrough scenario',
      };
    },
  },
  {
    name: 'ttfp',
    run: async (emulator) => {
      const fixture = await oggClip(1);
      const joins = smoke ? 1 : 5;
      const out: Record<string, unknown> = {};
      for (const lib of LIBS) {
        const runId = nextRunId();
        const run = await runClient(
          { lib, runId, endpoint: emulator.endpoint, n: 1, input: { kind: 'ogg', path: fixture.path, durationMs: fixture.durationMs }, mode: 'join', joins, settleMs: smoke ? 100 : 500 },
          env,
        );
        if (!run.result) throw new Error(`${lib} ttfp client failed: ${run.stderr.slice(-600)}`);
        const report = await emulator.report(runId, null);
        await emulator.reset();
        const ms = run.result.joins.map((j) => {
          const s = report.streams.find((x) => x.userId === j.userId);
          return s ? round(s.firstArrival - j.serverUpdateAt, 1) : null;
        });
        const ok = ms.filter((x): x is number => x !== null);
        const warm = ok.slice(1).sort((a, b) => a - b);
        out[lib] = { joinsMs: ms, firstMs: ok[0] ?? null, warmMedianMs: warm.length ? quantile(warm, 0.5) : (ok[0] ?? null), errors: run.result.errors };
        log(`ttfp ${lib}: ${JSON.stringify(ms)}`);
      }
      return out;
    },
  },
  {
    name: 'rss',
    run: async (emulator) => {
      const fixture = await oggHour();
      const playMs = smoke ? 2_000 : 80_000;
      const skipMs = smoke ? 1_000 : 30_000;
      const n = smoke ? 3 : 101;
      const out: Record<string, unknown> = {};
      for (const lib of LIBS) {
        const { summary, result } = await play({ scenario: 'rss', lib, n, fixture, emulator, stopAfterMs: playMs, rssEveryMs: 1000, warmupMs: skipMs, tailMs: 500 });
        const start = result.rss[0]?.[0] ?? 0;
        const playStart = result.window ? result.window.start - skipMs : start;
        const steady = result.rss.filter(([t]) => t >= playStart + skipMs && t <= playStart + playMs);
        const xs = steady.map(([t]) => (t - playStart) / 60_000);
        const ys = steady.map(([, v]) => v);
        const heapSteady = result.heap.filter(([t]) => t >= playStart + skipMs && t <= playStart + playMs);
        const mbPerMin = slope(xs, ys);
        const heapMbPerMin = slope(heapSteady.map(([t]) => (t - playStart) / 60_000), heapSteady.map(([, v]) => v));
        out[lib] = {
          streams: n,
          playedMs: playMs,
          rssMbPerMin: round(mbPerMin, 3),
          heapMbPerMin: round(heapMbPerMin, 3),
          extrapolatedHourGrowthMb: round(mbPerMin * 60, 1),
          steadyRangeMb: ys.length ? round(Math.max(...ys) - Math.min(...ys), 1) : null,
          // Growth of the peaks, robust to a GC sawtooth (the slope is not): highest RSS in the
          // last third of the steady window minus the highest in its first third.
          peakGrowthMb: ys.length >= 3 ? round(Math.max(...ys.slice(-Math.floor(ys.length / 3))) - Math.max(...ys.slice(0, Math.floor(ys.length / 3))), 1) : null,
          peakRssMb: summary.peakRssMb,
          cpuMsPerStreamSec: summary.cpuMsPerStreamSec,
          pacing: summary.pacing,
          lost: summary.lost,
          errors: summary.errors,
          // RSS every 5 s (MB), from the start of playback.
          series: result.rss.filter((_, i) => i % 5 === 0).map(([t, v]) => [round((t - playStart) / 1000, 0), round(v, 1)]),
        };
        log(`rss ${lib}: ${round(mbPerMin, 3)} MB/min (range ${JSON.stringify((out[lib] as { steadyRangeMb: unknown }).steadyRangeMb)} MB)`);
      }
      return out;
    },
  },
  {
    name: 'dave',
    run: async (emulator) => {
      const supported = fs.readFileSync(path.join(ROOT, 'src/testing/VoiceServer.ts'), 'utf8').includes('dave?: boolean');
      if (!supported) return { pending: 'pending DAVE emulator' };
      const fixture = await oggClip(smoke ? 1 : 10);
      const n = smoke ? 2 : 100;
      const daveEmulator = await startEmulator({ dave: true }, env);
      try {
        const out: Record<string, unknown> = {};
        for (const lib of LIBS) {
          // Two connections per guild in both runs: DAVE makes its MLS group with a second member.
          // (Smoke runs skip the "off" run.)
          const off = smoke ? null : (await play({ scenario: 'dave-off', lib, n, fixture, emulator, pairs: true })).summary;
          const on = (await play({ scenario: 'dave-on', lib, n, fixture, emulator: daveEmulator, dave: true, pairs: true })).summary;
          out[lib] = { off, on, daveActive: on.extra.daveActive ?? null, extraUsPerPacket: off ? round(on.cpuUsPerPacket - off.cpuUsPerPacket, 2) : null };
        }
        return out;
      } finally {
        await daveEmulator.close();
      }
    },
  },
  {
    name: 'recording',
    run: async (emulator) => recordingScenario(emulator),
  },
  {
    name: 'profile',
    run: async (emulator) => {
      const fixture = await oggClip(smoke ? 1 : 10);
      const n = smoke ? 2 : 100;
      const out: Record<string, unknown> = {};
      for (const lib of LIBS) {
        const dir = path.join(BENCH_DIR, '.tmp', 'profiles', lib);
        fs.rmSync(dir, { recursive: true, force: true });
        await play({ scenario: 'profile', lib, n, fixture, emulator, execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`] });
        const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
        if (!file) throw new Error(`no .cpuprofile for ${lib}`);
        const top = topSelfTime(path.join(dir, file), 10);
        out[lib] = { n, busyMs: round(top.busyMs, 0), profiledMs: round(top.totalMs, 0), top: top.top, file: path.relative(ROOT, path.join(dir, file)) };
      }
      return out;
    },
  },
];

// ---- the recording scenario ------------------------------------------------------------------

/**
 * `recordVoiceChannel` over a long run (rxvoice only: @discordjs/voice has no aligned
 * recording). Four simulated users talk through the emulator process — A 4 s on / 6 s off
 * (RTP timestamps jump over pauses), B 7 s on / 3 s off (timestamps frozen over pauses), C
 * without a pause, D from half-way, 2 s on / 8 s off — while one connection records every
 * track and the mix as WAV. Measured: each file's audio length against the wall clock
 * (CLOCK_MONOTONIC from subscription to stop), where each talk spurt lands against where the
 * emulator sent it (the offset's spread and slope over the run), memory over the run, CPU.
 */
/**
 * First sample in [fromMs, toMs) of a 48 kHz stereo s16le WAV whose left channel exceeds 5 %
 * of full scale, in ms from the start of the audio (sample precision), or null. Reads only that
 * window of the file.
 */
function wavOnsetMs(file: string, fromMs: number, toMs: number): number | null {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4096);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    let dataAt = -1;
    for (let at = 12; at + 8 <= n; ) {
      const size = head.readUInt32LE(at + 4);
      if (head.toString('latin1', at, at + 4) === 'data') {
        dataAt = at + 8;
        break;
      }
      at += 8 + size + (size & 1);
    }
    if (dataAt < 0) return null;
    const first = Math.max(0, Math.floor(fromMs * 48));
    const count = Math.max(0, Math.floor(toMs * 48) - first);
    const buf = Buffer.alloc(count * 4);
    const got = fs.readSync(fd, buf, 0, buf.length, dataAt + first * 4);
    const threshold = 0.05 * 32767;
    for (let i = 0; i + 4 <= got; i += 4) if (Math.abs(buf.readInt16LE(i)) > threshold) return (first + i / 4) / 48;
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

async function recordingScenario(emulator: Emulator): Promise<unknown> {
  const D = recordingMs;
  const runId = nextRunId();
  const guildId = `${runId}900000`;
  const uid = (k: number): string => `${runId}${String(k).padStart(6, '0')}`;
  const plans: SpeakPlan[] = [
    { userId: uid(1), ssrc: 71001, serverId: guildId, frequency: 500, startAtMs: 500, totalMs: D - 1500, talkMs: 4000, pauseMs: 6000, timestamp: 'jump' },
    { userId: uid(2), ssrc: 71002, serverId: guildId, frequency: 1000, startAtMs: 1500, totalMs: D - 2500, talkMs: 7000, pauseMs: 3000, timestamp: 'frozen' },
    { userId: uid(3), ssrc: 71003, serverId: guildId, frequency: 250, startAtMs: 1000, totalMs: D - 2000, talkMs: D, pauseMs: 0, timestamp: 'jump' },
    { userId: uid(4), ssrc: 71004, serverId: guildId, frequency: 750, startAtMs: Math.round(D / 2), totalMs: Math.round(D / 2) - 1000, talkMs: 2000, pauseMs: 8000, timestamp: 'jump' },
  ];
  const directory = path.join(BENCH_DIR, '.tmp', 'recording');
  fs.rmSync(directory, { recursive: true, force: true });
  const config: RecordingClientConfig = {
    endpoint: emulator.endpoint,
    guildId,
    userId: uid(9),
    directory,
    format: 'wav',
    durationMs: D,
    memoryEveryMs: smoke ? 500 : 5000,
  };
  const child = forkMeasured('recordingClient', config, env, []);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let spoken: Promise<Record<string, number>> | null = null;
  const result = await new Promise<RecordingClientResult | null>((resolve) => {
    let r: RecordingClientResult | null = null;
    child.on('message', (m: { type: string }) => {
      if (m.type === 'recording') spoken = emulator.speak(plans);
      else if (m.type === 'result') r = m as RecordingClientResult;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), D + 120_000);
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(r);
    });
  });
  // The users finish talking before the recording stops; a failed emulator must not hang the bench.
  const firstFrameAt: Record<string, number> = spoken
    ? await Promise.race([spoken, new Promise<Record<string, number>>((resolve) => setTimeout(() => resolve({}), 30_000).unref())])
    : {};
  try {
    if (!result || result.error) throw new Error(`recording client failed: ${result?.error ?? 'no result'}; stderr: ${stderr}`);
    const wallMs = result.stoppedAt - result.startedAt;
    // The issue's bound: within 20 ms per hour of recording (20 ms for anything up to an hour).
    const allowedMs = 20 * Math.max(1, wallMs / 3_600_000);
    const files = result.files.map((f) => ({
      file: f.kind === 'mix' ? 'mix' : `user ${f.userId!.slice(-1)}`,
      audioMs: round(f.audioMs, 1),
      minusWallMs: round(f.audioMs - wallMs, 1),
      mb: round(f.bytes / 1048576, 1),
    }));
    // Placement: each spurt's tone onset in its track (sample precision, not the 20 ms slots of
    // recording.json) against when the emulator sent the spurt's first frame. The sender, the
    // recorder and the wall clock share CLOCK_MONOTONIC: this checks the recorder's placement
    // and slot counting over the run, not the drift of two real clocks (the SlotPlacer's
    // simulated ±100 ppm sender is in test/sinks/recordingTimeline.test.ts).
    const placement = plans.map((p) => {
      const user = result.manifest?.users.find((u) => u.id === p.userId);
      const file = result.files.find((f) => f.userId === p.userId);
      const sentAt = firstFrameAt[p.userId];
      const cycle = p.talkMs + p.pauseMs;
      const spurtsSent = p.pauseMs > 0 ? Math.ceil(p.totalMs / cycle) : 1;
      const offsets: Array<[number, number]> = [];
      for (let k = 0; file && sentAt !== undefined && k < spurtsSent; k++) {
        const expected = sentAt - result.startedAt + k * cycle;
        const onset = file ? wavOnsetMs(file.path, expected - 60, expected + 200) : null;
        if (onset !== null) offsets.push([expected, onset - expected]);
      }
      // The first spurt is decoded from a fresh decoder; every later one follows Opus silence
      // frames, after which libopus ramps the tone up over about two frames (the 5 % threshold
      // is crossed ~40 ms later). Placement drift is measured over the later spurts.
      const later = offsets.slice(1);
      const ys = later.map(([, o]) => o);
      return {
        user: p.userId.slice(-1),
        timestamps: p.pauseMs > 0 ? p.timestamp : 'no pause',
        spurts: user?.spurts.length ?? 0,
        expectedSpurts: spurtsSent,
        onsetsFound: offsets.length,
        // Tone onset in the track − send time of the spurt's first frame, ms: the first spurt, and the later ones.
        firstOnsetMs: offsets.length ? round(offsets[0][1], 2) : null,
        onsetMs: ys.length ? { min: round(Math.min(...ys), 2), max: round(Math.max(...ys), 2) } : null,
        // Least-squares slope of the later spurts' offset over the run, ms per hour.
        driftMsPerHour: ys.length >= 2 ? round(slope(later.map(([x]) => x / 3_600_000), ys), 2) : null,
        latePackets: user?.latePackets ?? null,
        concealedFrames: user?.concealedFrames ?? null,
        // The first 30 spurts: [s from the start of the recording, onset − send time ms].
        firstOnsets: offsets.slice(0, 30).map(([x, y]) => [round(x / 1000, 1), round(y, 2)]),
      };
    });
    // Memory: the steady state once all four users talk (D joins half-way) and settled,
    // without the sample taken after the files were finalized.
    const from = result.startedAt + D / 2 + Math.min(30_000, D / 10);
    const steady = result.memory.filter((m) => m.t >= from && m.t <= result.stoppedAt);
    const xs = steady.map((m) => (m.t - result.startedAt) / 60_000);
    const mem = (k: 'rss' | 'heapUsed' | 'external' | 'arrayBuffers') => ({
      mbPerMin: round(slope(xs, steady.map((m) => m[k])), 3),
      min: round(Math.min(...steady.map((m) => m[k])), 1),
      max: round(Math.max(...steady.map((m) => m[k])), 1),
    });
    const out = {
      durationMs: D,
      memoryEveryMs: config.memoryEveryMs,
      wallMs: round(wallMs, 1),
      reportedMs: result.reportedMs,
      files,
      worstLengthErrorMs: round(Math.max(...files.map((f) => Math.abs(f.minusWallMs))), 1),
      allowedLengthErrorMs: round(allowedMs, 1),
      lengthsWithinBound: files.every((f) => Math.abs(f.minusWallMs) <= allowedMs),
      placement,
      memory: { rss: mem('rss'), heapUsed: mem('heapUsed'), external: mem('external'), arrayBuffers: mem('arrayBuffers'), samples: steady.length },
      peakRssMb: round(Math.max(...result.memory.map((m) => m.rss)), 1),
      cpuPctOfOneCore: round((result.cpuMs / wallMs) * 100, 2),
      // About 60 samples over the run: [s from the start, RSS MB, heap MB, ArrayBuffers MB].
      series: result.memory
        .filter((_, i, a) => i % Math.max(1, Math.round(a.length / 60)) === 0)
        .map((m) => [round((m.t - result.startedAt) / 1000, 0), round(m.rss, 1), round(m.heapUsed, 1), round(m.arrayBuffers, 1)]),
    };
    log(
      `recording ${Math.round(D / 1000)} s: length − wall ${files.map((f) => `${f.file} ${f.minusWallMs}`).join(', ')} ms; ` +
        `onset drift ${placement.map((p) => `${p.user} ${p.driftMsPerHour}`).join(', ')} ms/h; MB/min: rss ${out.memory.rss.mbPerMin}, heap ${out.memory.heapUsed.mbPerMin}, ` +
        `external ${out.memory.external.mbPerMin}, arrayBuffers ${out.memory.arrayBuffers.mbPerMin}`,
    );
    return out;
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

function pathToFileUrl(p: string): string {
  return `file://${p}`;
}

async function main(): Promise<void> {
  log(`${smoke ? 'smoke' : 'full'} run; transpiling src/ and bench/`);
  buildJs();
  const ffmpeg = benchFfmpeg(findFfmpeg);
  env = childEnv(ffmpeg);
  log(`ffmpeg: ${ffmpeg}`);
  const envInfo = environment();
  log(`machine: ${envInfo.cores} cores, ${envInfo.cpu}, node ${envInfo.node}, load ${JSON.stringify(envInfo.load)}`);
  // Scenarios that run in a process of their own need neither fixtures nor the emulator.
  const selfContained = new Set(['micro', 'filters']);
  const needsEmulator = scenarios.some((s) => (!only || only.has(s.name)) && !selfContained.has(s.name));
  // Fixtures first (not timed with the runs).
  if (needsEmulator) await Promise.all([oggClip(10), oggClip(20), oggClip(1), mp3Clip(smoke ? 1 : 10), mp3Clip(smoke ? 5 : 60), oggHour()]);
  const emulator = needsEmulator ? await startEmulator({}, env) : null;
  if (emulator) log(`emulator pid ${emulator.pid} at ${emulator.endpoint}`);
  const failures: string[] = [];
  try {
    for (const s of scenarios) {
      if (only && !only.has(s.name)) continue;
      log(`— ${s.name}`);
      try {
        const data = await s.run(emulator as Emulator);
        writeJson(s.name, { scenario: s.name, environment: envInfo, ...(data as object) });
        ranThisInvocation.add(s.name);
      } catch (err) {
        failures.push(`${s.name}: ${err instanceof Error ? err.message : String(err)}`);
        log(`${s.name} FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
        writeJson(s.name, { scenario: s.name, environment: envInfo, error: String(err) });
      }
    }
  } finally {
    await emulator?.close();
  }
  writeReport(outDir, smoke ? path.join(outDir, 'README.md') : path.join(BENCH_DIR, 'README.md'));
  log(`done in ${((monoMs() - started) / 1000).toFixed(0)} s${failures.length ? `; ${failures.length} scenario(s) failed` : ''}`);
  process.exit(failures.length ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
