import type { IncomingMessage, ServerResponse } from 'node:http';
import { RxVoiceError } from '../../../errors';
import { decodeTrack } from '../trackCodec';
import type { Info, JsonObject, LoadResult, Track } from '../types';
import type { NodeContext } from './context';
import { isObject, LavalinkHttpError, readJson, sendError, sendJson, sendNoContent, sendText } from './http';
import type { NodePlayer } from './player';
import type { Session } from './session';
import type { StatsCollector } from './stats';
import { parsePlayerUpdate, type TrackUpdate } from './validate';

/** What the routes need from the node. */
export interface RouteServices {
  readonly ctx: NodeContext;
  readonly sessions: ReadonlyMap<string, Session>;
  readonly stats: StatsCollector;
  /** `GET /version` text. */
  readonly version: string;
  info(): Info;
  loadTracks(identifier: string): Promise<LoadResult>;
  /** Extra routes (e.g. `/metrics`), answered after auth; return false to fall through to 404. */
  extra?(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> | boolean;
}

/** Guild ids are Java longs in Lavalink: digits, at most 19 (a snowflake). */
const GUILD_ID = /^\d{1,19}$/;

/**
 * Checks `Authorization` (docs/api/rest.md: every route, `/version` too).
 * @throws {LavalinkHttpError} 401 when missing, 403 when wrong.
 */
export function checkAuth(header: string | string[] | undefined, password: string): void {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') throw new LavalinkHttpError(401, 'Unauthorized: the Authorization header is missing');
  if (value !== password) throw new LavalinkHttpError(403, 'Forbidden: wrong password in the Authorization header');
}

/**
 * Answers one REST request (docs/api/rest.md). Never throws: every failure becomes Lavalink's
 * JSON error body (500 for the unexpected ones).
 */
export async function handleRequest(services: RouteServices, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = parseRequestUrl(req.url);
  const path = url?.pathname ?? (req.url ?? '/').split('?')[0];
  const trace = url?.searchParams.get('trace') === 'true';
  services.ctx.log({ level: 'debug', message: `${req.method} ${path}${url?.search ?? ''}` });
  try {
    checkAuth(req.headers.authorization, services.ctx.password);
    if (!url) throw new LavalinkHttpError(400, 'Malformed request URL');
    await route(services, req, res, url);
  } catch (err) {
    const status = err instanceof LavalinkHttpError ? err.status : 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status === 413 && !res.headersSent) res.setHeader('Connection', 'close'); // the rest of the body is not read
    if (status === 500) services.ctx.log({ level: 'error', message: `${req.method} ${path} failed: ${message}` });
    sendError(res, status, message, path, trace && err instanceof Error ? err.stack : undefined);
  }
}

/** The request target as a URL, or null when it does not parse (e.g. `//host:port-like` paths). */
export function parseRequestUrl(target: string | undefined): URL | null {
  try {
    return new URL(target ?? '/', 'http://node');
  } catch {
    return null;
  }
}

/** A path segment, percent-decoded. @throws {LavalinkHttpError} 400 when the escapes are malformed. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new LavalinkHttpError(400, `Malformed percent-encoding in path segment ${JSON.stringify(segment)}`);
  }
}

function methodNotAllowed(): LavalinkHttpError {
  return new LavalinkHttpError(405, 'Method Not Allowed');
}

async function route(s: RouteServices, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const method = req.method ?? 'GET';
  if (path === '/version') {
    if (method !== 'GET') throw methodNotAllowed();
    return sendText(res, 200, s.version);
  }
  if (path === '/v4/info') {
    if (method !== 'GET') throw methodNotAllowed();
    return sendJson(res, 200, s.info());
  }
  if (path === '/v4/stats') {
    if (method !== 'GET') throw methodNotAllowed();
    return sendJson(res, 200, s.stats.collect(false));
  }
  if (path === '/v4/loadtracks') {
    if (method !== 'GET') throw methodNotAllowed();
    const identifier = url.searchParams.get('identifier');
    if (!identifier) throw new LavalinkHttpError(400, 'Required parameter identifier is missing');
    return sendJson(res, 200, await s.loadTracks(identifier));
  }
  if (path === '/v4/decodetrack') {
    if (method !== 'GET') throw methodNotAllowed();
    const encoded = url.searchParams.get('encodedTrack') ?? url.searchParams.get('track');
    if (!encoded) throw new LavalinkHttpError(400, 'Required parameter encodedTrack is missing');
    return sendJson(res, 200, decodeToTrack(encoded));
  }
  if (path === '/v4/decodetracks') {
    if (method !== 'POST') throw methodNotAllowed();
    const body = await readJson(req);
    if (!Array.isArray(body) || !body.every((e): e is string => typeof e === 'string')) {
      throw new LavalinkHttpError(400, 'The request body must be an array of encoded tracks (strings)');
    }
    return sendJson(res, 200, body.map((e) => decodeToTrack(e)));
  }
  const m = /^\/v4\/sessions\/([^/]+)(?:\/players(?:\/([^/]+))?)?$/.exec(path);
  if (m) {
    const session = s.sessions.get(decodeSegment(m[1]));
    const isPlayers = path.includes('/players');
    const guildId = m[2] !== undefined ? decodeSegment(m[2]) : undefined;
    if (!isPlayers) {
      if (method !== 'PATCH') throw methodNotAllowed();
      if (!session) throw new LavalinkHttpError(404, 'Session not found');
      return sendJson(res, 200, updateSession(session, await readJson(req)));
    }
    if (guildId === undefined) {
      if (method !== 'GET') throw methodNotAllowed();
      if (!session) throw new LavalinkHttpError(404, 'Session not found');
      return sendJson(res, 200, [...session.players.values()].map((p) => p.toJSON()));
    }
    if (method !== 'GET' && method !== 'PATCH' && method !== 'DELETE') throw methodNotAllowed();
    if (!session) throw new LavalinkHttpError(404, 'Session not found');
    if (!GUILD_ID.test(guildId)) throw new LavalinkHttpError(400, `Invalid guild id ${JSON.stringify(guildId)}: a snowflake (digits) is expected`);
    if (method === 'GET') {
      const p = session.player(guildId, false);
      if (!p) throw new LavalinkHttpError(404, 'Player not found');
      return sendJson(res, 200, p.toJSON());
    }
    if (method === 'DELETE') {
      if (!session.destroyPlayer(guildId)) throw new LavalinkHttpError(404, 'Player not found');
      return sendNoContent(res);
    }
    const body = await readJson(req);
    const noReplace = url.searchParams.get('noReplace') === 'true';
    const player = await updatePlayer(s, session, guildId, body, noReplace);
    return sendJson(res, 200, player.toJSON());
  }
  if (s.extra && (await s.extra(req, res, path))) return;
  throw new LavalinkHttpError(404, 'Not Found');
}

/** An encoded track as a Track object. @throws {LavalinkHttpError} 400 when it does not decode. */
function decodeToTrack(encoded: string, userData: JsonObject = {}): Track {
  try {
    return { encoded, info: decodeTrack(encoded), pluginInfo: {}, userData };
  } catch (err) {
    if (err instanceof RxVoiceError) throw new LavalinkHttpError(400, `Failed to decode track: ${err.message}`);
    throw err;
  }
}

function updateSession(session: Session, body: unknown): { resuming: boolean; timeout: number } {
  if (!isObject(body)) throw new LavalinkHttpError(400, 'The request body must be a JSON object');
  const { resuming, timeout } = body;
  if (resuming !== undefined && typeof resuming !== 'boolean') throw new LavalinkHttpError(400, 'resuming must be a boolean');
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout < 0)) {
    throw new LavalinkHttpError(400, 'timeout must be a number of seconds ≥ 0');
  }
  return session.update(resuming, timeout === undefined ? undefined : Math.round(timeout));
}

/** Resolves a track update to a Track (encoded: decoded; identifier: loaded, one track only). */
async function resolveTrack(s: RouteServices, update: Extract<TrackUpdate, { kind: 'encoded' | 'identifier' }>): Promise<Track> {
  let track: Track;
  if (update.kind === 'encoded') {
    track = decodeToTrack(update.encoded, update.userData ?? {});
  } else {
    const result = await s.loadTracks(update.identifier);
    if (result.loadType !== 'track') {
      const why = result.loadType === 'error' ? `: ${result.data.message ?? result.data.cause}` : ` (load result ${result.loadType}; a single track is needed)`;
      throw new LavalinkHttpError(400, `Could not load identifier ${JSON.stringify(update.identifier)} as a track${why}`);
    }
    track = { ...result.data, userData: update.userData ?? {} };
  }
  if (!s.ctx.sourceManagers.includes(track.info.sourceName)) {
    throw new LavalinkHttpError(400, `Track source ${JSON.stringify(track.info.sourceName)} is not enabled on this node (enabled: ${s.ctx.sourceManagers.join(', ') || 'none'})`);
  }
  return track;
}

/**
 * PATCH /v4/sessions/{sessionId}/players/{guildId} (docs/api/rest.md "Update Player"):
 * validates everything first (a 400 changes nothing), then applies voice, filters, volume,
 * paused, the track (from `position`, with `endTime`; `noReplace` keeps a loaded track),
 * and a lone `position` as a seek.
 */
async function updatePlayer(s: RouteServices, session: Session, guildId: string, body: unknown, noReplace: boolean): Promise<NodePlayer> {
  const update = parsePlayerUpdate(body, s.ctx.filters);
  const t = update.track;
  const track = t && (t.kind === 'encoded' || t.kind === 'identifier') ? await resolveTrack(s, t) : null;
  const player = session.player(guildId, true) as NodePlayer;
  if (update.voice) player.setVoice(update.voice);
  if (update.filters !== undefined) player.setFilters(update.filters);
  if (update.volume !== undefined) player.setVolume(update.volume);
  if (update.paused !== undefined) player.setPaused(update.paused);
  if (track) {
    const replacing = !(noReplace && player.track);
    player.play(track, { startMs: update.position ?? 0, endTime: update.endTime ?? null, noReplace });
    // A new track starts unpaused unless the update says otherwise (LAVALINK.md).
    if (replacing && update.paused === undefined) player.setPaused(false);
  } else if (t?.kind === 'stop') {
    player.stop();
  } else if (t?.kind === 'userData' && player.track) {
    player.track.userData = t.userData;
  }
  if (!track) {
    if (update.endTime !== undefined) player.setEndTime(update.endTime);
    if (update.position !== undefined) player.seek(update.position);
  }
  return player;
}
