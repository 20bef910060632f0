import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { voiceDriverThreads } from '../../driver/configureVoiceDriver';
import { codecPool } from '../../driver/internal/CodecPool';
import { LAVALINK_FILTER_ORDER } from '../../operators/filters';
import { RxVoiceError } from '../../errors';
import type { NodeContext, NodeLogEntry } from './internal/context';
import { sendError } from './internal/http';
import { NodeMetricsFeed } from './internal/metricsFeed';
import { handleRequest, type RouteServices } from './internal/routes';
import type { Session } from './internal/session';
import { StatsCollector } from './internal/stats';
import { LavalinkSocketServer } from './internal/websocket';
import type { LavalinkNodeConfig } from './config';
import { loadTracks } from './loadTracks';
import type { Info, LoadResult } from './types';

export type { NodeLogEntry } from './internal/context';

/** The Lavalink version this node implements (API v4, DAVE-era voice state). */
export const LAVALINK_COMPAT_VERSION = '4.2.0';

/** Options of {@link startLavalinkNode}. Each option wins over the same setting in `config`. */
export interface LavalinkNodeOptions {
  /**
   * Lavalink's configuration, e.g. from `loadLavalinkConfig()` (application.yml): port, address,
   * password, sources (`http`, `local`; others are not served), filters,
   * playerUpdateInterval, trackStuckThresholdMs, the resume timeout. Default: Lavalink's defaults.
   */
  config?: LavalinkNodeConfig;
  /** TCP port, 0 for any free one. Default 2333 (Lavalink's `server.port`). */
  port?: number;
  /** Address to listen on. Default `0.0.0.0` (Lavalink's `server.address`). */
  address?: string;
  /** `lavalink.server.password`: required in `Authorization` on every route. Default `youshallnotpass`. */
  password?: string;
  /** Source managers to enable: `http` (URLs ffmpeg reads; default on) and `local` (file paths; default off). */
  sources?: { http?: boolean; local?: boolean };
  /** Filters to enable by Lavalink name (default: all ten that `filters()` implements). */
  filters?: readonly string[];
  /** `lavalink.server.playerUpdateInterval`: ms between `playerUpdate` ops. Default 5000. */
  playerUpdateIntervalMs?: number;
  /** ms between `stats` ops. Default 60000 (Lavalink's; lavalink-client closes after 65 s without one). */
  statsIntervalMs?: number;
  /** `lavalink.server.trackStuckThresholdMs`: TrackStuckEvent after this long without progress. Default 10000. */
  trackStuckThresholdMs?: number;
  /** Resume timeout when a session enables resuming without one, s. Default 60. */
  resumeTimeoutS?: number;
  /** DAVE end-to-end encryption on voice connections. Default true (as Lavalink ≥ 4.2). */
  dave?: boolean;
  /**
   * Resolves `GET /v4/loadtracks` identifiers and `track.identifier` in player updates.
   * Default: `loadTracks(identifier, config)` (http URLs, local files when enabled).
   */
  loadTracks?: (identifier: string) => Promise<LoadResult>;
  /**
   * Prometheus metrics (`metrics.prometheus` in application.yml): `true` serves them at
   * `/metrics`, `{ endpoint }` at another path; answered without authorization, as Lavalink
   * does. Players, playing players, frames sent/nulled (counters), frame deficit, the
   * driver's pacing p99 (`voiceDriverStats`), CPU, memory, and prom-client's process
   * metrics; Lavalink's metric names where it has one. Default: the config's
   * `metricsEnabled`/`metricsEndpoint`, else off.
   */
  metrics?: boolean | { endpoint?: string };
  /** Extra REST routes answered after auth; return true when answered. */
  extraRoutes?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean> | boolean;
  /** Log hook (never gets passwords or voice tokens). Default: none. */
  logger?: (entry: NodeLogEntry) => void;
}

/** A running node, from {@link startLavalinkNode}. */
export interface LavalinkNode {
  /** The port it listens on. */
  readonly port: number;
  /** The address it listens on. */
  readonly address: string;
  /** Number of sessions (connected or waiting for a resume). */
  readonly sessionCount: number;
  /** Ends every session and player (voice connections leave), closes the server. */
  close(): Promise<void>;
}

/**
 * Starts a Lavalink v4-compatible audio node: the REST API and the `/v4/websocket`
 * WebSocket of Lavalink (docs/api/rest.md, docs/api/websocket.md in lavalink-devs/Lavalink),
 * with playback on rxvoice (`connectVoice`, `createPlayer`, `ffmpegSource` → `filters` →
 * `volume` → `opusEncode`), so existing Lavalink clients (lavalink-client, Shoukaku, …) use it
 * unchanged.
 *
 * - Every route checks `Authorization` (401 missing, 403 wrong); every response has
 *   `Lavalink-Api-Version: 4`; errors are Lavalink's JSON error bodies
 *   `{timestamp, status, error, message, path, trace?}`.
 * - Routes: `GET /version`, `/v4/info`, `/v4/stats`, `/v4/loadtracks`, `/v4/decodetrack`,
 *   `POST /v4/decodetracks`, `PATCH /v4/sessions/{id}`, `GET /v4/sessions/{id}/players`,
 *   `GET|PATCH|DELETE /v4/sessions/{id}/players/{guildId}`.
 * - WebSocket: `ready` (16-character session id), `stats` at connect and every
 *   `statsIntervalS`, `playerUpdate` every `playerUpdateIntervalS` while a track is loaded,
 *   events TrackStart/End/Exception/Stuck and WebSocketClosed.
 *
 * Nothing a client sends can crash the node: handlers catch everything and answer 400/500.
 *
 * @returns once listening.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` for a bad port or interval; the listen error
 *   (e.g. `EADDRINUSE`) as is.
 *
 * @example
 * ```ts
 * const node = await startLavalinkNode({ port: 2333, password: 'youshallnotpass' });
 * // point lavalink-client / Shoukaku at 127.0.0.1:2333
 * await node.close();
 * ```
 */
export async function startLavalinkNode(options: LavalinkNodeOptions = {}): Promise<LavalinkNode> {
  const port = options.port ?? options.config?.port ?? 2333;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RxVoiceError('INVALID_ARGUMENT', `port must be an integer 0–65535, got ${port}`);
  const positive = (name: string, v: number): number => {
    if (!Number.isFinite(v) || v <= 0) throw new RxVoiceError('INVALID_ARGUMENT', `${name} must be a number > 0, got ${v}`);
    return v;
  };
  const cfg = options.config;
  const http = options.sources?.http ?? cfg?.sources.http ?? true;
  const local = options.sources?.local ?? cfg?.sources.local ?? false;
  const sources = [...(http ? ['http'] : []), ...(local ? ['local'] : [])];
  const enabledByConfig = cfg ? LAVALINK_FILTER_ORDER.filter((f) => cfg.filters[f] !== false) : LAVALINK_FILTER_ORDER;
  const filters = (options.filters ?? enabledByConfig).filter((f) => (LAVALINK_FILTER_ORDER as readonly string[]).includes(f));
  const log = options.logger ?? (() => undefined);
  const ctx: NodeContext = {
    password: options.password ?? cfg?.password ?? 'youshallnotpass',
    sourceManagers: sources,
    filters,
    playerUpdateIntervalMs: positive('playerUpdateIntervalMs', options.playerUpdateIntervalMs ?? cfg?.playerUpdateIntervalMs ?? 5000),
    statsIntervalMs: positive('statsIntervalMs', options.statsIntervalMs ?? 60_000),
    trackStuckThresholdMs: positive('trackStuckThresholdMs', options.trackStuckThresholdMs ?? cfg?.trackStuckThresholdMs ?? 10_000),
    defaultResumeTimeoutS: positive('resumeTimeoutS', options.resumeTimeoutS ?? cfg?.resumeTimeoutSeconds ?? 60),
    dave: options.dave ?? true,
    log: (e: NodeLogEntry) => {
      try {
        log(e);
      } catch {
        /* a logger that throws must not break the node */
      }
    },
  };
  const sessions = new Map<string, Session>();
  const stats = new StatsCollector(() => sessions.values());
  const startedAt = Date.now();
  const [major, minor, patch] = LAVALINK_COMPAT_VERSION.split('.').map(Number);
  const build = `rxvoice.${rxvoiceVersion().replace(/[^0-9A-Za-z.-]/g, '-')}`;
  const info = (): Info => ({
    version: { semver: `${LAVALINK_COMPAT_VERSION}+${build}`, major, minor, patch, preRelease: null, build },
    buildTime: startedAt,
    git: { branch: 'rxvoice', commit: 'unknown', commitTime: startedAt },
    jvm: `Node.js ${process.versions.node}`,
    lavaplayer: `rxvoice ${rxvoiceVersion()}`,
    sourceManagers: [...ctx.sourceManagers],
    filters: [...ctx.filters],
    plugins: [],
  });
  const loadConfig = { ...(cfg ? { connectTimeoutMs: cfg.connectTimeoutMs, socketTimeoutMs: cfg.socketTimeoutMs } : {}), sources: { http, local } };
  const defaultLoader = (identifier: string): Promise<LoadResult> => loadTracks(identifier, loadConfig);
  const services: RouteServices = {
    ctx,
    sessions,
    stats,
    version: `${LAVALINK_COMPAT_VERSION}+${build}`,
    info,
    loadTracks: options.loadTracks ?? defaultLoader,
    extra: options.extraRoutes,
  };
  const metricsOption = options.metrics ?? (cfg?.metricsEnabled ? { endpoint: cfg.metricsEndpoint } : false);
  const metricsPath = metricsOption === false ? null : metricsOption === true ? '/metrics' : (metricsOption.endpoint ?? '/metrics');
  const metrics = metricsPath !== null ? new NodeMetricsFeed(() => sessions.values(), stats) : null;
  const sockets = new LavalinkSocketServer({
    ctx,
    sessions,
    sendStats: (s) => s.send({ op: 'stats', ...stats.collect(true) }),
  });
  const server = createServer((req, res) => {
    if (metrics && req.method === 'GET' && new URL(req.url ?? '/', 'http://node').pathname === metricsPath) {
      metrics.respond(res).catch((err: unknown) => {
        ctx.log({ level: 'error', message: `metrics failed: ${String(err)}` });
        if (!res.headersSent) sendError(res, 500, 'Internal Server Error', metricsPath);
        else res.destroy();
      });
      return;
    }
    handleRequest(services, req, res).catch((err: unknown) => {
      ctx.log({ level: 'error', message: `request failed: ${String(err)}` });
      try {
        sendError(res, 500, 'Internal Server Error', req.url ?? '/');
      } catch {
        res.destroy();
      }
    });
  });
  server.on('upgrade', (req, socket, head) => sockets.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket) => socket.destroy());
  const statsTimer = setInterval(() => {
    const s = stats.collect(true);
    for (const session of sessions.values()) if (session.online) session.send({ op: 'stats', ...s });
  }, ctx.statsIntervalMs);
  statsTimer.unref();

  const address = options.address ?? cfg?.address ?? '0.0.0.0';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  // Start the Opus codec threads now, not with the first track: tracks that start while they
  // load encode on the main thread, and a node that gets many tracks at once would do that
  // for all of them while its main thread is busiest.
  if (voiceDriverThreads() > 0) void codecPool().ready;
  ctx.log({ level: 'info', message: `Lavalink node listening on ${bound.address}:${bound.port}` });
  let closing: Promise<void> | null = null;
  return {
    port: bound.port,
    address: bound.address,
    get sessionCount() {
      return sessions.size;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(statsTimer);
        metrics?.close();
        for (const s of [...sessions.values()]) s.end(1001, 'node shutting down');
        sockets.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function rxvoiceVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}
