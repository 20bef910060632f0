/**
 * One benchmark client: N voice connections in this process, all with rxvoice or all with
 * @discordjs/voice, joined through a hand-written adapter (VOICE_STATE_UPDATE, then
 * VOICE_SERVER_UPDATE, as test/conformance/djsClient.js does) to the emulator's wss endpoint.
 *
 *   rxvoice:  oggOpusSource(file).pipe(voiceSink(conn))
 *             ffmpegSource(mp3).pipe(opusEncode({ bitrate: 96_000 }), voiceSink(conn))
 *   djs:      createAudioResource(createReadStream(file), { inputType: StreamType.OggOpus })
 *             createAudioResource(mp3)   (prism spawns ffmpeg: FFMPEG_PATH is not read by prism,
 *                                          so the orchestrator puts ffmpeg's directory on PATH)
 *
 * Modes: `together` connects all N, then starts every stream in the same instant and measures
 * CPU in [start + warmupMs, start + duration − tailMs]; `join` joins `joins` times one after
 * the other, each playing from the adapter's VOICE_SERVER_UPDATE on (time to first packet).
 *
 * rxvoice's voice driver: `threads` (absent: the default, threads = cores; 0: in-process) is
 * applied before anything is made and recorded as `extra.driver`. `busy` blocks the main
 * thread periodically while the streams play (the "busy bot" scenario).
 *
 * Config: argv[2] JSON (ClientConfig). Result: `process.send({ type: 'result', ... })`.
 * Run with NODE_TLS_REJECT_UNAUTHORIZED=0 (@discordjs/voice speaks wss only; the emulator's
 * certificate is self-signed; rxvoice runs with the same setting).
 */
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { childrenCpuMsNow, liveChildPids, liveChildrenCpuMs, monoMs, procCpuMs, sleep } from './lib/common';

export interface ClientConfig {
  lib: 'rxvoice' | 'djs';
  /** Digits only (ids are snowflake-like): the prefix of every user id of the run. */
  runId: string;
  endpoint: string;
  n: number;
  /**
   * `mp3`: a file path or an http URL, decoded by ffmpeg. `bitrate` (rxvoice's `opusEncode`;
   * default 96000) and `ffmpegArgs` (extra ffmpeg input arguments, rxvoice only) let a run
   * match another pipeline (the Lavalink node's: `opusEncode()` at 64 kb/s, reconnect options).
   */
  input: {
    kind: 'ogg' | 'mp3';
    path: string;
    durationMs: number;
    bitrate?: number;
    ffmpegArgs?: string[];
    /**
     * rxvoice, mp3 only: `sink` (default) `ffmpegSource → opusEncode → voiceSink(conn)`;
     * `player`: what the Lavalink node's player runs, `createPlayer(conn, { leadMs: 400 })`
     * playing `ffmpegSource → takeWhile → filters(filters$) → volume(gain$) → opusEncode()`
     * with no filter set and gain 1 (src/server/lavalink/internal/player.ts), without the node.
     */
    pipeline?: 'sink' | 'player';
  };
  mode: 'together' | 'join';
  /** `join` mode: sequential joins. */
  joins?: number;
  warmupMs?: number;
  tailMs?: number;
  /** Connections being set up at once. Default 25. */
  connectConcurrency?: number;
  /** RSS sampling period, ms. Default 250. */
  rssEveryMs?: number;
  dave?: boolean;
  /** Two connections per guild (DAVE needs a second member to establish its MLS group). */
  pairs?: boolean;
  /** Give up on playback after this long, ms (an error). */
  maxPlayMs?: number;
  /** Stop playback after this long, ms, by design (long inputs); not an error. */
  stopAfterMs?: number;
  /**
   * With `stopAfterMs`: stop every stream when it elapses (unsubscribe / `player.stop()`: ffmpeg
   * children exit) rather than leaving them to the connections' destruction.
   */
  stopStreamsAtEnd?: boolean;
  /** Pause between connecting and playing, and after playing, ms. Default 500. */
  settleMs?: number;
  /**
   * rxvoice only: its voice driver's worker threads. Absent: rxvoice's default (the driver,
   * threads = cores); `0`: in-process, on the main thread. Set through `configureVoiceDriver`
   * when `src/index` exports it, and as `RXVOICE_THREADS` in this process's environment
   * (which the driver reads) either way.
   */
  threads?: number;
  /**
   * "Busy bot": from the start of playback to its end, a `setInterval(periodMs)` on the main
   * thread spins synchronously for `blockMs` (both libraries).
   */
  busy?: { periodMs: number; blockMs: number };
}

/** How the rxvoice client ran its voice driver (recorded in the results as `extra.driver`). */
export interface DriverInfo {
  /** `config.threads`, or 'default'. */
  requested: number | 'default';
  /** Threads by the driver's own rule (`voiceDriverThreads()`), when that module exists. */
  threads: number | null;
  /** `configureVoiceDriver` is exported from src/index (the driver is wired in). */
  exported: boolean;
  /** How `requested` was applied. */
  via: string;
}

export interface ClientResult {
  type: 'result';
  lib: string;
  n: number;
  connected: number;
  connectMs: number;
  /** Wall-clock window the CPU was measured in (monotonic ms). */
  window: { start: number; end: number } | null;
  cpuMsInWindow: number;
  /** CPU of this process's children (ffmpeg) in the same window: reaped (cutime) + live ones, ms. */
  childrenCpuMsInWindow: number;
  /** Whole playback (start → all ended), this process and its reaped ffmpeg children, ms. */
  playCpuSelfMs: number;
  playCpuChildrenMs: number;
  playWallMs: number;
  finished: number;
  errors: string[];
  peakRssMb: number;
  rss: Array<[number, number]>;
  heap: Array<[number, number]>;
  joins: Array<{ userId: string; serverUpdateAt: number }>;
  extra: Record<string, unknown>;
}

interface Stream {
  /** Resolves when playback ended. */
  done: Promise<void>;
  /** Stops playback (`done` then resolves). */
  stop(): void;
}

interface Connection {
  ready: Promise<void>;
  play(): Stream;
  destroy(): void;
  /** DAVE end-to-end encryption is active on this connection. */
  daveActive(): boolean;
}

interface Lib {
  /** Joins; resolves when ready. `onServerUpdate` is called right before VOICE_SERVER_UPDATE is fed. */
  connect(i: number, onServerUpdate: () => void, playAtOnce: boolean): Promise<Connection>;
  extra(): Record<string, unknown>;
  /** Frames sent and underruns so far, all streams (rxvoice: their last progress). */
  counters?(): { sent: number; underruns: number };
}

const config = JSON.parse(process.argv[2]) as ClientConfig;
/** Snowflake-like numeric ids (DAVE needs them): the run id, then the connection number. */
const userIdOf = (i: number): string => `${config.runId}${String(i).padStart(6, '0')}`;
/** Guild (and channel) of connection `i`: its own, or shared by a pair. */
const guildOf = (i: number): string => `${config.runId}9${String(config.pairs ? i >> 1 : i).padStart(5, '0')}`;

function voiceStateUpdate(i: number, d: { channel_id: string | null; self_deaf?: boolean; self_mute?: boolean }) {
  return {
    guild_id: guildOf(i),
    channel_id: d.channel_id,
    user_id: userIdOf(i),
    session_id: `s-${userIdOf(i)}`,
    deaf: false,
    mute: false,
    self_deaf: Boolean(d.self_deaf),
    self_mute: Boolean(d.self_mute),
    self_video: false,
    suppress: false,
    request_to_speak_timestamp: null,
  };
}

/** The discord.js-style adapter both libraries take. */
function adapter(i: number, onServerUpdate: () => void) {
  return (methods: { onVoiceStateUpdate(d: unknown): void; onVoiceServerUpdate(d: unknown): void }) => ({
    sendPayload(payload: { op: number; d?: { channel_id: string | null; self_deaf?: boolean; self_mute?: boolean } }) {
      if (payload.op !== 4 || !payload.d || payload.d.channel_id === null) return true;
      const d = payload.d;
      setImmediate(() => {
        methods.onVoiceStateUpdate(voiceStateUpdate(i, d));
        onServerUpdate();
        methods.onVoiceServerUpdate({ token: `t-${userIdOf(i)}`, guild_id: guildOf(i), endpoint: config.endpoint });
      });
      return true;
    },
    destroy() {},
  });
}

/**
 * `config.threads`, part 1, before rxvoice is loaded: `RXVOICE_THREADS` in this process's
 * environment (the driver reads it; the orchestrator sets it in the child's environment too).
 */
function driverEnv(): void {
  if (config.threads === undefined) delete process.env.RXVOICE_THREADS;
  else process.env.RXVOICE_THREADS = String(config.threads);
}

/**
 * `config.threads`, part 2, before rxvoice makes anything: `configureVoiceDriver` when
 * `src/index` exports it (checked at run time: the export lands with the driver).
 */
function setUpDriver(rx: Record<string, unknown>): DriverInfo {
  const configure = rx.configureVoiceDriver;
  const exported = typeof configure === 'function';
  const via: string[] = [];
  if (config.threads !== undefined) {
    via.push('RXVOICE_THREADS');
    if (exported) {
      (configure as (o: { threads?: number }) => void)({ threads: config.threads });
      via.push('configureVoiceDriver');
    }
  }
  let threads: number | null = null;
  try {
    const fromIndex = rx.voiceDriverThreads;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const read = typeof fromIndex === 'function' ? fromIndex : (require('../src/driver/configureVoiceDriver') as Record<string, unknown>).voiceDriverThreads;
    if (typeof read === 'function') threads = (read as () => number)();
  } catch {
    // no driver module in this version
  }
  return { requested: config.threads ?? 'default', threads, exported, via: via.length ? via.join(' + ') : 'default (nothing set)' };
}

/** CPU time of the calling thread, ms (/proc/thread-self/schedstat: ns on CPU), or null. */
function threadCpuMs(): number | null {
  try {
    return Number(fs.readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return null;
  }
}

/** Threads of this process (main, libuv pool, V8, workers), from /proc/self/status. */
function osThreads(): number | undefined {
  try {
    const m = /^Threads:\s+(\d+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

function rxvoiceLib(): Lib {
  driverEnv();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const rx = require('../src') as typeof import('../src');
  const driver = setUpDriver(rx as unknown as Record<string, unknown>);
  // The lateness diagnostic adds a listener to the main thread's shared clock; with the
  // driver wired in and threads > 0 the streams' clocks run in the workers, and a main-thread
  // clock would only be extra load there: not watched then.
  const inProcess = !driver.exported || driver.threads === 0;
  let framesLate = 0;
  let underruns = 0;
  let dropped = 0;
  let framesSent = 0;
  const progress: Array<() => import('../src').PlaybackProgress | null> = [];
  // Diagnostics: how late the shared clock's ticks ran (one more listener on it).
  const lateness: number[] = [];
  let stopLateness: (() => void) | null = null;
  const watchClock = (): void => {
    if (!inProcess) return;
    stopLateness ??= rx.sharedVoiceClock().add((t) => {
      if (lateness.length < 100_000) lateness.push(t.now - t.deadline);
    });
  };
  return {
    async connect(i, onServerUpdate, playAtOnce) {
      const conn = rx.joinVoiceChannel({
        guildId: guildOf(i),
        channelId: guildOf(i),
        selfDeaf: false,
        dave: Boolean(config.dave),
        group: `bench-${i}`, // one connection per guild and group (two clients share a guild in pair runs)
        adapterCreator: adapter(i, onServerUpdate) as unknown as import('../src').DiscordGatewayAdapterCreator,
      });
      const play = (): Stream => {
        watchClock();
        const source =
          config.input.kind === 'ogg'
            ? rx.oggOpusSource(config.input.path)
            : rx.ffmpegSource(config.input.path, { args: config.input.ffmpegArgs }).pipe(rx.opusEncode({ bitrate: config.input.bitrate ?? 96_000 }));
        let last: import('../src').PlaybackProgress | null = null;
        progress.push(() => last);
        let sub: import('rxjs').Subscription | null = null;
        let stopped = (): void => undefined;
        let counted = false;
        const count = (): void => {
          if (counted) return;
          counted = true;
          framesLate += last?.framesLate ?? 0;
          underruns += last?.underruns ?? 0;
          dropped += last?.droppedFrames ?? 0;
          framesSent += last?.framesSent ?? 0;
        };
        if (config.input.kind === 'mp3' && config.input.pipeline === 'player') {
          // eslint-disable-next-line @typescript-eslint/no-require-imports
          const { BehaviorSubject, defer, takeWhile } = require('rxjs') as typeof import('rxjs');
          const filters$ = new BehaviorSubject<import('../src').FiltersConfig>({});
          const gain$ = new BehaviorSubject<number>(1);
          const input = config.input;
          const player = rx.createPlayer<null>(conn, { leadMs: 400 });
          const endTime: number | null = null;
          const track = defer(() =>
            rx.ffmpegSource(input.path, { seekMs: 0, args: input.ffmpegArgs }).pipe(
              takeWhile(() => endTime === null),
              rx.filters(filters$),
              rx.volume(gain$),
              rx.opusEncode(),
            ),
          );
          player.progress$.subscribe((p) => (last = p));
          const done = new Promise<void>((resolve, reject) => {
            stopped = resolve;
            player.events$.subscribe((e) => {
              if (e.type === 'end') {
                count();
                if (e.reason === 'failed') reject(e.error instanceof Error ? e.error : new Error(String(e.error)));
                else resolve();
              }
            });
          });
          player.enqueue({ source: track, title: 'bench', data: null });
          return {
            done,
            stop: () => {
              count();
              player.destroy();
              stopped();
            },
          };
        }
        const done = new Promise<void>((resolve, reject) => {
          stopped = resolve;
          sub = source.pipe(rx.voiceSink(conn)).subscribe({
            next: (p) => (last = p),
            error: (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
            complete: () => {
              count();
              resolve();
            },
          });
        });
        const stop = (): void => {
          count(); // the counts so far (unsubscribing ends the stream without `complete`)
          (sub as import('rxjs').Subscription | null)?.unsubscribe();
          stopped();
        };
        return { done, stop };
      };
      const early = playAtOnce ? play() : null;
      const ready = conn.ready(120_000).then(() => undefined);
      let dave = 'disabled';
      conn.dave$.subscribe((d) => (dave = d.status));
      return {
        ready,
        play: () => early ?? play(),
        destroy: () => conn.destroy(),
        daveActive: () => dave === 'active',
      };
    },
    extra: () => {
      stopLateness?.();
      const sorted = lateness.slice(100).sort((a, b) => a - b); // after the start-up ticks
      const q = (p: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 1000) / 1000;
      const clockLatenessMs = inProcess ? { p50: q(0.5), p99: q(0.99), max: q(1) } : null;
      return { framesLate, underruns, droppedFrames: dropped, framesSent, clockLatenessMs, driver };
    },
    counters: () => {
      let sent = 0;
      let under = 0;
      for (const p of progress) {
        const last = p();
        sent += last?.framesSent ?? 0;
        under += last?.underruns ?? 0;
      }
      return { sent, underruns: under };
    },
  };
}

function djsLib(): Lib {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const voice = require('@discordjs/voice') as typeof import('@discordjs/voice');
  const pipelines = new Set<string>();
  return {
    async connect(i, onServerUpdate, playAtOnce) {
      const conn = voice.joinVoiceChannel({
        guildId: guildOf(i),
        channelId: guildOf(i),
        selfDeaf: false,
        daveEncryption: Boolean(config.dave),
        group: `bench-${i}`, // @discordjs/voice keeps one connection per guild and group
        adapterCreator: adapter(i, onServerUpdate) as unknown as import('@discordjs/voice').DiscordGatewayAdapterCreator,
      });
      conn.on('error', () => undefined);
      const play = (): Stream => {
        const player = voice.createAudioPlayer();
        const resource =
          config.input.kind === 'ogg'
            ? voice.createAudioResource(fs.createReadStream(config.input.path), { inputType: voice.StreamType.OggOpus })
            : voice.createAudioResource(config.input.path);
        pipelines.add(resource.edges.map((e) => e.type).join(' → ') || 'passthrough');
        const done = new Promise<void>((resolve, reject) => {
          player.on('error', (err) => reject(err));
          player.on('stateChange', (from, to) => {
            if (to.status === voice.AudioPlayerStatus.Idle && from.status !== voice.AudioPlayerStatus.Idle) resolve();
          });
        });
        conn.subscribe(player);
        player.play(resource);
        return { done, stop: () => void player.stop(true) };
      };
      const early = playAtOnce ? play() : null;
      const ready = voice.entersState(conn, voice.VoiceConnectionStatus.Ready, 120_000).then(() => undefined);
      const daveActive = (): boolean => {
        const s = conn.state as { networking?: { state?: { dave?: { protocolVersion: number; session?: { ready?: boolean } } } } };
        const dave = s.networking?.state?.dave;
        return Boolean(dave && dave.protocolVersion > 0 && dave.session?.ready);
      };
      return { ready, play: () => early ?? play(), destroy: () => conn.destroy(), daveActive };
    },
    extra: () => ({ djsPipelines: [...pipelines] }),
  };
}

async function main(): Promise<void> {
  const lib = config.lib === 'rxvoice' ? rxvoiceLib() : djsLib();
  const rss: Array<[number, number]> = [];
  const heap: Array<[number, number]> = [];
  let peakRss = 0;
  const rssEvery = config.rssEveryMs ?? 250;
  const sampleRss = (): void => {
    const r = process.memoryUsage.rss() / 1048576;
    peakRss = Math.max(peakRss, r);
    rss.push([monoMs(), r]);
  };
  let heapTick = 0;
  const rssTimer = setInterval(() => {
    sampleRss();
    if (++heapTick % 4 === 0) heap.push([monoMs(), process.memoryUsage().heapUsed / 1048576]);
  }, rssEvery);
  sampleRss();

  const errors: string[] = [];
  const joins: ClientResult['joins'] = [];
  const result: ClientResult = {
    type: 'result',
    lib: config.lib,
    n: config.n,
    connected: 0,
    connectMs: 0,
    window: null,
    cpuMsInWindow: 0,
    childrenCpuMsInWindow: 0,
    playCpuSelfMs: 0,
    playCpuChildrenMs: 0,
    playWallMs: 0,
    finished: 0,
    errors,
    peakRssMb: 0,
    rss,
    heap,
    joins,
    extra: {},
  };
  const note = (err: unknown): void => {
    if (errors.length < 20) errors.push(err instanceof Error ? err.message : String(err));
  };

  if (config.mode === 'join') {
    for (let j = 0; j < (config.joins ?? 1); j++) {
      const userId = userIdOf(j);
      const c = await lib.connect(j, () => joins.push({ userId, serverUpdateAt: monoMs() }), true);
      try {
        await c.ready;
        result.connected++;
        await c.play().done;
        result.finished++;
      } catch (err) {
        note(err);
      }
      await sleep(Math.min(200, config.settleMs ?? 500)); // let the last datagrams land
      c.destroy();
      await sleep(100);
    }
  } else {
    const t0 = monoMs();
    const conns: Connection[] = [];
    const concurrency = config.connectConcurrency ?? 25;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < config.n) {
        const i = next++;
        try {
          const c = await lib.connect(i, () => undefined, false);
          await c.ready;
          conns.push(c);
        } catch (err) {
          note(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, config.n) }, worker));
    result.connected = conns.length;
    result.connectMs = monoMs() - t0;
    if (config.dave) {
      // The MLS group of each pair is made after both joined: wait for E2EE (at most 20 s).
      for (let k = 0; k < 200 && conns.some((c) => !c.daveActive()); k++) await sleep(100);
      result.extra.daveWaitMs = monoMs() - t0 - result.connectMs;
    }
    await sleep(config.settleMs ?? 500);

    const warmup = config.warmupMs ?? 2000;
    const tail = config.tailMs ?? 1000;
    const durationMs = config.input.durationMs;
    // Busy bot: the main thread spins `blockMs` (wall time) of every `periodMs` while the
    // streams play. `blockedMs`: wall time spent spinning; `spinCpuMs`: the main thread's CPU
    // time in those spins (/proc/thread-self/schedstat, ns; less than the wall time when the
    // machine preempts the spinning thread), which is what the CPU figures subtract.
    // `phases`: where the blocks started in the 20 ms frame grid of the playback start (5 ms bins).
    const busy = { blocks: 0, blockedMs: 0, spinCpuMs: 0, atWindowStart: { blockedMs: 0, spinCpuMs: 0 }, inWindow: { blockedMs: 0, spinCpuMs: 0 }, phases: [0, 0, 0, 0] };
    const startPerf = performance.now();
    const busyTimer = config.busy
      ? setInterval(() => {
          const c0 = threadCpuMs();
          const t = performance.now();
          busy.phases[Math.floor(((t - startPerf) % 20) / 5)]++;
          const until = t + config.busy!.blockMs;
          let now = t;
          while (now < until) now = performance.now();
          const c1 = threadCpuMs();
          busy.blocks++;
          busy.blockedMs += now - t;
          busy.spinCpuMs += c0 !== null && c1 !== null ? c1 - c0 : now - t;
        }, config.busy.periodMs)
      : null;
    const cpu0 = procCpuMs();
    const start = monoMs();
    const streams = conns.map((c) => c.play());
    let windowCpu0 = 0;
    let windowChildren0 = 0;
    let frames0: { sent: number; underruns: number } | null = null;
    const windowStart = start + warmup;
    const playFor = config.stopAfterMs ?? durationMs;
    const windowEnd = start + playFor - tail;
    const w1 = setTimeout(() => {
      const u = process.cpuUsage();
      windowCpu0 = (u.user + u.system) / 1000;
      windowChildren0 = childrenCpuMsNow();
      frames0 = lib.counters?.() ?? null;
      result.window = { start: monoMs(), end: 0 };
      result.extra.daveActive = conns.filter((c) => c.daveActive()).length;
      result.extra.osThreadsInWindow = osThreads();
      busy.atWindowStart = { blockedMs: busy.blockedMs, spinCpuMs: busy.spinCpuMs };
    }, windowStart - monoMs());
    const w2 = setTimeout(() => {
      const u = process.cpuUsage();
      result.cpuMsInWindow = (u.user + u.system) / 1000 - windowCpu0;
      result.childrenCpuMsInWindow = childrenCpuMsNow() - windowChildren0;
      const frames1 = lib.counters?.();
      // rxvoice: audio frames sent and underruns (ticks without a frame) of all streams in the window.
      if (frames0 && frames1) result.extra.framesInWindow = { sent: frames1.sent - frames0.sent, underruns: frames1.underruns - frames0.underruns };
      if (result.window) result.window.end = monoMs();
      busy.inWindow = { blockedMs: busy.blockedMs - busy.atWindowStart.blockedMs, spinCpuMs: busy.spinCpuMs - busy.atWindowStart.spinCpuMs };
    }, windowEnd - monoMs());
    const limit = sleep(config.stopAfterMs ?? config.maxPlayMs ?? durationMs + 30_000).then(() => 'timeout' as const);
    const all = Promise.all(
      streams.map((s) =>
        s.done.then(
          () => void result.finished++,
          (err: unknown) => note(err),
        ),
      ),
    );
    if ((await Promise.race([all.then(() => 'ok' as const), limit])) === 'timeout' && config.stopAfterMs === undefined) note('playback timeout');
    result.playWallMs = monoMs() - start;
    if (config.stopStreamsAtEnd) for (const s of streams) s.stop();
    if (busyTimer) {
      clearInterval(busyTimer);
      const { blocks, blockedMs, spinCpuMs, inWindow, phases } = busy;
      result.extra.busy = { ...config.busy, blocks, blockedMs, spinCpuMs, blockedMsInWindow: inWindow.blockedMs, spinCpuMsInWindow: inWindow.spinCpuMs, phases };
    }
    clearTimeout(w1);
    clearTimeout(w2);
    // ffmpeg children: wait until they have exited and were reaped (their CPU then shows in cutime).
    for (let k = 0; k < 50 && liveChildPids().length > 0; k++) await sleep(100);
    const cpu1 = procCpuMs();
    result.playCpuSelfMs = cpu1.selfMs - cpu0.selfMs;
    result.playCpuChildrenMs = cpu1.childrenMs - cpu0.childrenMs + liveChildrenCpuMs();
    await sleep(Math.min(300, config.settleMs ?? 500)); // let the last datagrams land
    for (const c of conns) c.destroy();
  }
  clearInterval(rssTimer);
  sampleRss();
  result.peakRssMb = peakRss;
  result.extra = { ...result.extra, ...lib.extra() };
  process.send!(result, () => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
