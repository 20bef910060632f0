/**
 * The `lavalink` scenario's Lavalink client, in the orchestrator (its cost is not the node's):
 * starts `bench/lavalinkProcess.ts` (the rxvoice node, a process of its own), opens one raw
 * `ws` WebSocket to `/v4/websocket` (one session, one bot user), loads the track once
 * (`GET /v4/loadtracks?identifier=<url>`), then, as a bot does on VOICE_SERVER_UPDATE and
 * `play`: `PATCH /v4/sessions/{id}/players/{guildId}` with `{ voice: { token, endpoint,
 * sessionId, channelId } }` for every player (25 at a time), waits until every player reports
 * `state.connected` (`GET /v4/sessions/{id}/players`), and then sends every player's
 * `PATCH … { track: { encoded } }` at once. CPU of the node process is taken in a window as
 * long as the library's (playMs − warmupMs − tailMs) that opens warmupMs after the PATCHes or
 * 2 s after the last TrackStartEvent, whichever is later (the steady state of N players; how long
 * the N starts took is reported as trackStartMs), then the node is closed (every player ends,
 * the ffmpeg children are killed).
 *
 * The `stats` ops the node sends (every `statsIntervalMs`) are kept with their arrival time;
 * their `frameStats` are the node's own count of frames sent / nulled / missing per player
 * per minute, over the period since the previous `stats` op.
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { LavalinkProcessConfig } from '../lavalinkProcess';
import { monoMs, procTreeCpuMs, sleep } from './common';
import { forkMeasured } from './procs';

/** Longest wait for every TrackStartEvent before the window opens anyway, ms. */
const MAX_START_WAIT_MS = 40_000;

export interface NodeRunOptions {
  env: NodeJS.ProcessEnv;
  /** The emulator's endpoint (what Discord sends as VOICE_SERVER_UPDATE `endpoint`). */
  endpoint: string;
  /** Digits: prefix of the bot's user id (the emulator reports streams by it) and of the guild ids. */
  runId: string;
  n: number;
  /** The track's URL (http). */
  url: string;
  playMs: number;
  warmupMs: number;
  tailMs: number;
  statsIntervalMs: number;
  /** Pause between "all connected" and the track PATCHes, ms. */
  settleMs: number;
  connectConcurrency?: number;
  /** Extra node options of the node process (e.g. `--cpu-prof`). */
  execArgv?: string[];
}

export interface StatsSample {
  /** Arrival, monotonic ms (orchestrator; the same clock as the node's and the emulator's). */
  t: number;
  players: number;
  playingPlayers: number;
  /** `cpu.lavalinkLoad`: the node's own CPU over the last ≥ 1 s, fraction of all cores. */
  lavalinkLoad: number;
  memoryUsedMb: number;
  frameStats: { sent: number; nulled: number; deficit: number } | null;
}

export interface NodeRunResult {
  n: number;
  /** Players whose `state.connected` was true before the tracks were sent. */
  connected: number;
  connectMs: number;
  /** TrackStartEvents received (before the node was closed). */
  started: number;
  /** When the track PATCHes were sent (monotonic ms), and how long until the node had answered them all. */
  start: number;
  tracksSentMs: number;
  /** Track PATCH sent → its answer, ms: median and max. */
  trackAnswerMs: { p50: number; max: number } | null;
  /** Track PATCH sent → TrackStartEvent, ms: median and max over the players. */
  trackStartMs: { p50: number; max: number } | null;
  /** TrackEndEvent / TrackExceptionEvent / TrackStuckEvent / WebSocketClosedEvent before the close. */
  events: Record<string, number>;
  window: { start: number; end: number } | null;
  cpuMsInWindow: number;
  childrenCpuMsInWindow: number;
  liveChildrenInWindow: number;
  peakRssMb: number;
  stats: StatsSample[];
  errors: string[];
  nodePid: number;
}

const PASSWORD = 'bench';

/** One node process for one run. */
function startNode(config: LavalinkProcessConfig, env: NodeJS.ProcessEnv, execArgv: string[] = []) {
  // The node runs rxvoice's default driver (threads = cores).
  const child = forkMeasured('lavalinkProcess', config, env, execArgv);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  let nextId = 1;
  const pending = new Map<number, (m: Record<string, unknown>) => void>();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ port: number; pid: number }>((resolve, reject) => {
    void exited.then((code) => reject(new Error(`lavalink node exited with ${code}: ${stderr.trim().slice(-600)}`)));
    child.on('message', (m: { type: string; id?: number; port?: number; pid?: number }) => {
      if (m.type === 'ready') resolve({ port: m.port!, pid: m.pid! });
      else if (m.id !== undefined) {
        pending.get(m.id)?.(m as Record<string, unknown>);
        pending.delete(m.id);
      }
    });
  });
  const call = <T>(cmd: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (m) => resolve(m as T));
      if (child.exitCode !== null || !child.connected) reject(new Error(`lavalink node is gone: ${stderr.trim().slice(-600)}`));
      else child.send({ cmd, id });
    });
  return {
    ready,
    close: async (): Promise<number> => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      try {
        return child.exitCode === null ? (await call<{ peakRssMb: number }>('close')).peakRssMb : NaN;
      } finally {
        await exited;
        clearTimeout(timer);
      }
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** Runs N players on a fresh node, from connecting to closing it. */
export async function runLavalinkNode(o: NodeRunOptions): Promise<NodeRunResult> {
  const node = startNode({ password: PASSWORD, statsIntervalMs: o.statsIntervalMs, dave: false }, o.env, o.execArgv);
  const errors: string[] = [];
  const note = (msg: string): void => {
    if (errors.length < 20) errors.push(msg);
  };
  const stats: StatsSample[] = [];
  const events: Record<string, number> = {};
  const trackStartAt = new Map<string, number>();
  let ws: WebSocket | null = null;
  try {
    const { port, pid } = await node.ready;
    const base = `http://127.0.0.1:${port}`;
    const userId = `${o.runId}000000`;
    const guildOf = (i: number): string => `${o.runId}9${String(i).padStart(5, '0')}`;

    // The session: a raw WebSocket, as a Lavalink client opens it.
    const socket = new WebSocket(`ws://127.0.0.1:${port}/v4/websocket`, { headers: { Authorization: PASSWORD, 'User-Id': userId, 'Client-Name': 'rxvoice-bench/1.0' } });
    ws = socket;
    const sessionId = await new Promise<string>((resolve, reject) => {
      socket.on('error', (err) => {
        note(`node WebSocket: ${err.message}`);
        reject(err);
      });
      socket.once('close', (code) => reject(new Error(`node WebSocket closed with ${code} before ready`)));
      socket.on('message', (data: WebSocket.RawData) => {
        const t = monoMs();
        const m = JSON.parse(data.toString()) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
        if (m.op === 'ready') resolve(m.sessionId as string);
        else if (m.op === 'stats') {
          stats.push({
            t,
            players: m.players,
            playingPlayers: m.playingPlayers,
            lavalinkLoad: m.cpu?.lavalinkLoad ?? NaN,
            memoryUsedMb: (m.memory?.used ?? 0) / 1048576,
            frameStats: m.frameStats ?? null,
          });
        } else if (m.op === 'event') {
          events[m.type] = (events[m.type] ?? 0) + 1;
          if (m.type === 'TrackStartEvent') trackStartAt.set(m.guildId as string, t);
          else if (m.type === 'TrackExceptionEvent') note(`TrackExceptionEvent: ${m.exception?.message ?? '?'}`);
          else if (m.type === 'WebSocketClosedEvent') note(`WebSocketClosedEvent ${m.code}: ${m.reason}`);
        }
      });
    });
    const headers = { Authorization: PASSWORD, 'Content-Type': 'application/json' };
    const rest = async (method: string, route: string, body?: unknown): Promise<any> => { // eslint-disable-line @typescript-eslint/no-explicit-any
      const res = await fetch(`${base}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text.slice(0, 300)}`);
      return text ? JSON.parse(text) : null;
    };

    // The track, once.
    const loaded = await rest('GET', `/v4/loadtracks?identifier=${encodeURIComponent(o.url)}`);
    if (loaded?.loadType !== 'track') throw new Error(`loadtracks: ${JSON.stringify(loaded).slice(0, 300)}`);
    const encoded = loaded.data.encoded as string;

    // Voice for every player (VOICE_SERVER_UPDATE forwarded), 25 at a time; then wait until connected.
    const t0 = monoMs();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < o.n) {
        const i = next++;
        const guildId = guildOf(i);
        try {
          await rest('PATCH', `/v4/sessions/${sessionId}/players/${guildId}`, {
            voice: { token: `t-${userId}-${i}`, endpoint: o.endpoint, sessionId: `s-${userId}-${i}`, channelId: guildId },
          });
        } catch (err) {
          note(String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(o.connectConcurrency ?? 25, o.n) }, worker));
    let connected = 0;
    for (const until = monoMs() + 60_000; monoMs() < until; ) {
      const players = (await rest('GET', `/v4/sessions/${sessionId}/players`)) as Array<{ state: { connected: boolean } }>;
      connected = players.filter((p) => p.state.connected).length;
      if (connected >= o.n) break;
      await sleep(100);
    }
    const connectMs = monoMs() - t0;
    if (connected < o.n) note(`only ${connected} of ${o.n} players connected after 60 s`);
    await sleep(o.settleMs);

    // Every track at once.
    // (The window does not wait for the answers: a node slow to answer is measured all the same.)
    const start = monoMs();
    let tracksSentMs = NaN;
    const answerMs: number[] = [];
    const answered = Promise.all(
      Array.from({ length: o.n }, (_, i) =>
        rest('PATCH', `/v4/sessions/${sessionId}/players/${guildOf(i)}`, { track: { encoded } }).then(
          () => void answerMs.push(monoMs() - start),
          (err: unknown) => note(String(err)),
        ),
      ),
    ).then(() => void (tracksSentMs = monoMs() - start));
    // The node's CPU from /proc (its event loop may be too busy to answer IPC on time).
    const mark = () => ({ t: monoMs(), ...procTreeCpuMs(pid) });
    // The window is the node's steady state: it opens `warmupMs` after the PATCHes, or 2 s after
    // the last TrackStartEvent if the node took longer to start every track (N tracks at once on
    // a loaded node start one after the other; that time is reported as trackStartMs), and lasts
    // as long as the library's (playMs − warmupMs − tailMs).
    const lengthMs = o.playMs - o.warmupMs - o.tailMs;
    while (trackStartAt.size < o.n && monoMs() - start < MAX_START_WAIT_MS) await sleep(100);
    const allStartedAt = trackStartAt.size > 0 ? Math.max(...trackStartAt.values()) : start;
    const windowStart = Math.max(start + o.warmupMs, allStartedAt + 2000);
    await sleep(windowStart - monoMs());
    const m0 = mark();
    await sleep(windowStart + lengthMs - monoMs());
    const m1 = mark();
    await sleep(o.tailMs);
    await answered;
    const starts = [...trackStartAt.values()].map((t) => t - start).sort((a, b) => a - b);
    const eventsBeforeClose = { ...events };
    socket.removeAllListeners('close');
    const peakRssMb = await node.close();
    return {
      n: o.n,
      connected,
      connectMs,
      started: trackStartAt.size,
      start,
      tracksSentMs,
      trackAnswerMs: answerMs.length ? { p50: answerMs.sort((a, b) => a - b)[Math.floor(answerMs.length / 2)], max: answerMs[answerMs.length - 1] } : null,
      trackStartMs: starts.length ? { p50: starts[Math.floor(starts.length / 2)], max: starts[starts.length - 1] } : null,
      events: eventsBeforeClose,
      window: { start: m0.t, end: m1.t },
      cpuMsInWindow: m1.selfMs - m0.selfMs,
      childrenCpuMsInWindow: m1.childrenMs - m0.childrenMs,
      liveChildrenInWindow: Math.min(m0.liveChildren, m1.liveChildren),
      peakRssMb,
      stats,
      errors,
      nodePid: pid,
    };
  } catch (err) {
    node.kill();
    throw err;
  } finally {
    ws?.terminate();
  }
}

/**
 * The node's frameStats over the stats periods that lie inside [from, to] (the previous
 * `stats` op at or after `from`, this one at or before `to`): each period's per-player
 * averages, and their mean.
 */
export function frameStatsIn(stats: StatsSample[], from: number, to: number): { periods: Array<{ sent: number; nulled: number; deficit: number; playingPlayers: number }>; mean: { sent: number; nulled: number; deficit: number } | null } {
  const periods: Array<{ sent: number; nulled: number; deficit: number; playingPlayers: number }> = [];
  for (let i = 1; i < stats.length; i++) {
    const s = stats[i];
    if (stats[i - 1].t >= from && s.t <= to && s.frameStats) periods.push({ ...s.frameStats, playingPlayers: s.playingPlayers });
  }
  if (!periods.length) return { periods, mean: null };
  const avg = (f: (p: { sent: number; nulled: number; deficit: number }) => number): number => Math.round(periods.reduce((a, p) => a + f(p), 0) / periods.length);
  return { periods, mean: { sent: avg((p) => p.sent), nulled: avg((p) => p.nulled), deficit: avg((p) => p.deficit) } };
}

/**
 * The track's http server (in the orchestrator, for both variants): `GET /<name>` answers the
 * file (Content-Length, `audio/mpeg`), anything else 404.
 */
export async function serveFile(file: string): Promise<{ url: string; requests: () => number; close: () => Promise<void> }> {
  const name = path.basename(file);
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.url !== `/${name}`) {
      res.writeHead(404).end();
      return;
    }
    requests++;
    res.writeHead(200, { 'Content-Type': 'audio/mpeg', 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/${name}`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
