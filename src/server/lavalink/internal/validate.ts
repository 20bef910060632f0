import { filters as filtersOperator } from '../../../operators/filters';
import { InvalidFilterError } from '../../../operators/InvalidFilterError';
import type { Filters, JsonObject } from '../types';
import { isObject, LavalinkHttpError } from './http';
import type { FullVoiceState } from './player';

/** What a track update asks for. */
export type TrackUpdate =
  /** Stop the current track. */
  | { kind: 'stop'; userData?: JsonObject }
  | { kind: 'encoded'; encoded: string; userData?: JsonObject }
  | { kind: 'identifier'; identifier: string; userData?: JsonObject }
  /** Only `userData` for the current track. */
  | { kind: 'userData'; userData: JsonObject };

/** A validated `PATCH …/players/{guildId}` body (docs/api/rest.md "Update Player"). */
export interface PlayerUpdate {
  track?: TrackUpdate;
  position?: number;
  /** null resets it. */
  endTime?: number | null;
  volume?: number;
  paused?: boolean;
  filters?: Filters;
  voice?: FullVoiceState;
}

const bad = (message: string): LavalinkHttpError => new LavalinkHttpError(400, message);

function integerAt(o: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad(`${key} must be a number`);
  if (v < min || v > max) throw bad(`${key} must be between ${min} and ${max}, got ${v}`);
  return Math.round(v);
}

function userDataOf(o: Record<string, unknown>, path: string): JsonObject | undefined {
  const v = o.userData;
  if (v === undefined) return undefined;
  if (!isObject(v)) throw bad(`${path}userData must be an object`);
  return v as JsonObject;
}

/**
 * Validates a player update (all or nothing).
 * @param enabledFilters filter names that are on; any other filter present is refused.
 * @throws {LavalinkHttpError} 400 naming the field: `track` with the deprecated
 *   `encodedTrack`/`identifier`, both `encoded` and `identifier`, a wrong type, `endTime` ≤ 0,
 *   `volume` outside 0–1000, invalid filters (`filters.timescale.pitch …`), a partial `voice`.
 */
export function parsePlayerUpdate(body: unknown, enabledFilters: readonly string[]): PlayerUpdate {
  if (!isObject(body)) throw bad('The request body must be a JSON object');
  const out: PlayerUpdate = {};

  const hasTrack = body.track !== undefined;
  const hasEncoded = body.encodedTrack !== undefined;
  const hasIdentifier = body.identifier !== undefined;
  if (hasTrack && (hasEncoded || hasIdentifier)) throw bad('Cannot specify both track and encodedTrack/identifier');
  if (hasEncoded && hasIdentifier) throw bad('Cannot specify both encodedTrack and identifier');
  if (hasTrack) {
    const t = body.track;
    if (!isObject(t)) throw bad('track must be an object');
    const userData = userDataOf(t, 'track.');
    const e = t.encoded;
    const id = t.identifier;
    if (e !== undefined && id !== undefined) throw bad('Cannot specify both track.encoded and track.identifier');
    if (e === null) out.track = { kind: 'stop', userData };
    else if (e !== undefined) {
      if (typeof e !== 'string') throw bad('track.encoded must be a string or null');
      out.track = { kind: 'encoded', encoded: e, userData };
    } else if (id !== undefined) {
      if (typeof id !== 'string' || id === '') throw bad('track.identifier must be a non-empty string');
      out.track = { kind: 'identifier', identifier: id, userData };
    } else if (userData !== undefined) out.track = { kind: 'userData', userData };
  } else if (hasEncoded) {
    const e = body.encodedTrack;
    if (e === null) out.track = { kind: 'stop' };
    else if (typeof e === 'string') out.track = { kind: 'encoded', encoded: e };
    else throw bad('encodedTrack must be a string or null');
  } else if (hasIdentifier) {
    if (typeof body.identifier !== 'string' || body.identifier === '') throw bad('identifier must be a non-empty string');
    out.track = { kind: 'identifier', identifier: body.identifier };
  }

  out.position = integerAt(body, 'position', 0, Number.MAX_SAFE_INTEGER);
  if (body.endTime === null) out.endTime = null;
  else if (body.endTime !== undefined) {
    if (typeof body.endTime !== 'number' || !Number.isFinite(body.endTime)) throw bad('endTime must be a number or null');
    if (body.endTime <= 0) throw bad(`endTime must be greater than 0, got ${body.endTime}`);
    out.endTime = Math.round(body.endTime);
  }
  out.volume = integerAt(body, 'volume', 0, 1000);
  if (body.paused !== undefined) {
    if (typeof body.paused !== 'boolean') throw bad('paused must be a boolean');
    out.paused = body.paused;
  }
  if (body.filters !== undefined) out.filters = parseFilters(body.filters, enabledFilters);
  if (body.voice !== undefined) out.voice = parseVoice(body.voice);
  for (const key of Object.keys(out) as (keyof PlayerUpdate)[]) if (out[key] === undefined) delete out[key];
  return out;
}

/**
 * Validates Lavalink's filter object with the same checks `filters()` makes.
 * @throws {LavalinkHttpError} 400: `Invalid filters: <field> …` (e.g. `equalizer[3].gain`), or a disabled filter.
 */
export function parseFilters(value: unknown, enabledFilters: readonly string[]): Filters {
  if (value === null) return {};
  if (!isObject(value)) throw bad('filters must be an object');
  for (const [key, v] of Object.entries(value)) {
    if (key === 'pluginFilters' || v === null || v === undefined) continue;
    if (!enabledFilters.includes(key) && KNOWN_FILTERS.has(key)) throw bad(`Filter ${key} is disabled on this node`);
  }
  try {
    filtersOperator(value as Filters);
  } catch (err) {
    if (err instanceof InvalidFilterError) throw bad(`Invalid filters: ${err.message} (field filters.${err.field})`);
    throw bad(`Invalid filters: ${(err as Error).message}`);
  }
  return value as Filters;
}

const KNOWN_FILTERS: ReadonlySet<string> = new Set(['volume', 'equalizer', 'karaoke', 'timescale', 'tremolo', 'vibrato', 'rotation', 'distortion', 'channelMix', 'lowPass']);

/**
 * Validates a voice state: `token`, `endpoint`, `sessionId` and `channelId` all required
 * (Lavalink ≥ 4.2, for DAVE).
 * @throws {LavalinkHttpError} 400 naming the missing fields.
 */
export function parseVoice(value: unknown): FullVoiceState {
  if (!isObject(value)) throw bad('voice must be an object');
  const missing = (['token', 'endpoint', 'sessionId', 'channelId'] as const).filter((k) => typeof value[k] !== 'string' || value[k] === '');
  if (missing.length > 0) {
    throw bad(`Partial Lavalink voice state: ${missing.map((k) => `voice.${k}`).join(', ')} ${missing.length === 1 ? 'is' : 'are'} missing (token, endpoint, sessionId and channelId are all required)`);
  }
  return { token: value.token as string, endpoint: value.endpoint as string, sessionId: value.sessionId as string, channelId: value.channelId as string };
}
