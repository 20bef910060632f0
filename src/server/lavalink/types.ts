/**
 * Lavalink v4 JSON shapes, as the REST API and the WebSocket (`/v4/websocket`) carry them.
 *
 * Source: Lavalink's docs, `docs/api/rest.md` and `docs/api/websocket.md` (lavalink-devs/Lavalink).
 * Plain interfaces only; field names and nullability follow the docs' tables (`?string` there
 * is `string | null` here; an optional field `x?` there is `x?:` here). Times are in
 * milliseconds unless a field says otherwise; guild ids are strings (Discord snowflakes).
 */

import type { FiltersConfig } from '../../operators/filters';

/** A JSON value (for `pluginInfo`, `userData` and plugin filter configurations). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A JSON object (`{}` when empty). */
export type JsonObject = { [key: string]: JsonValue };

// ---------------------------------------------------------------------------------------------
// Tracks (rest.md "Track API")

/** Track info (rest.md "Track Info"). */
export interface TrackInfo {
  /** The source's identifier of the track (for `http` the URL, for `local` the file path). */
  identifier: string;
  /** Whether the track can be seeked (false for streams). */
  isSeekable: boolean;
  /** The track's author ("Unknown artist" when the source has none). */
  author: string;
  /** Length in milliseconds (`9223372036854775807`, Java's Long.MAX_VALUE, for streams). */
  length: number;
  /** Whether the track is a live stream (no known length). */
  isStream: boolean;
  /** Position in milliseconds (0 when loaded). */
  position: number;
  /** The track's title ("Unknown title" when the source has none). */
  title: string;
  /** The track's URI, or null. */
  uri: string | null;
  /** The track's artwork URL, or null. */
  artworkUrl: string | null;
  /** The track's ISRC, or null. */
  isrc: string | null;
  /** The source manager's name, e.g. `"http"`, `"local"`, `"youtube"`. */
  sourceName: string;
}

/** A track (rest.md "Track"). */
export interface Track {
  /** The base64 encoded track (lavaplayer's binary format, see `trackCodec.ts`). */
  encoded: string;
  /** Info about the track. */
  info: TrackInfo;
  /** Additional info from plugins (`{}` here: no plugins). */
  pluginInfo: JsonObject;
  /** Data given with the track in `PATCH …/players/{guildId}` (`{}` when none). */
  userData: JsonObject;
}

/** Playlist info (rest.md "Playlist Info"). */
export interface PlaylistInfo {
  /** The name of the playlist. */
  name: string;
  /** Index of the selected track, -1 if none. */
  selectedTrack: number;
}

/** Playlist result data (rest.md "Playlist Result Data"). */
export interface PlaylistData {
  info: PlaylistInfo;
  pluginInfo: JsonObject;
  tracks: Track[];
}

/** Load result type (rest.md "Load Result Type"). */
export type LoadResultType = 'track' | 'playlist' | 'search' | 'empty' | 'error';

/** `GET /v4/loadtracks` response (rest.md "Track Loading Result"), discriminated by `loadType`. */
export type LoadResult =
  | { loadType: 'track'; data: Track }
  | { loadType: 'playlist'; data: PlaylistData }
  | { loadType: 'search'; data: Track[] }
  | { loadType: 'empty'; data: Record<string, never> }
  | { loadType: 'error'; data: Exception };

// ---------------------------------------------------------------------------------------------
// Errors (rest.md "Error Responses"; websocket.md "Exception Object")

/** Exception severity (websocket.md "Severity"). */
export type Severity = 'common' | 'suspicious' | 'fault';

/** An exception (websocket.md "Exception Object"), in load results and TrackExceptionEvent. */
export interface Exception {
  /** The message, or null. */
  message: string | null;
  /** How bad it is. */
  severity: Severity;
  /** The cause (in Lavalink: the Java exception's `toString()`). */
  cause: string;
  /** The full stack trace of the cause (Lavalink ≥ 4.0.8; optional for older clients' sake). */
  causeStackTrace?: string;
}

/** The JSON body of every REST error response (rest.md "Error Responses"). */
export interface ErrorResponse {
  /** When the error happened, ms since the Unix epoch. */
  timestamp: number;
  /** The HTTP status code. */
  status: number;
  /** The HTTP status message, e.g. "Not Found". */
  error: string;
  /** Stack trace, only with `?trace=true`. */
  trace?: string;
  /** What went wrong, e.g. "Session not found". */
  message: string;
  /** The request path. */
  path: string;
}

// ---------------------------------------------------------------------------------------------
// Players (rest.md "Player API")

/** Filters (rest.md "Filters"): rxvoice's {@link FiltersConfig} has exactly Lavalink's fields. */
export type Filters = FiltersConfig;

/** Player state (websocket.md "Player State"). */
export interface PlayerState {
  /** Unix time in milliseconds. */
  time: number;
  /** Track position in milliseconds. */
  position: number;
  /** Whether the node is connected to the voice gateway. */
  connected: boolean;
  /** Round trip to the voice server in ms, -1 when not connected. */
  ping: number;
}

/** Voice state (rest.md "Voice State"). */
export interface VoiceState {
  token: string;
  endpoint: string;
  sessionId: string;
  /** The voice channel id; required when updating the player (DAVE, Lavalink 4.2), may be null in responses. */
  channelId?: string | null;
}

/** A player (rest.md "Player"). */
export interface Player {
  guildId: string;
  /** The current track, or null. */
  track: Track | null;
  /** Volume in percent, 0–1000. */
  volume: number;
  paused: boolean;
  state: PlayerState;
  voice: VoiceState;
  filters: Filters;
}

/** `track` of an Update Player request (rest.md "Update Player Track"). */
export interface UpdatePlayerTrack {
  /** Base64 track to play; `null` stops the current track. Exclusive with `identifier`. */
  encoded?: string | null;
  /** Identifier to resolve to a single track. Exclusive with `encoded`. */
  identifier?: string;
  /** Data sent back in the Track object. */
  userData?: JsonObject;
}

/** `PATCH /v4/sessions/{sessionId}/players/{guildId}` body (rest.md "Update Player"). */
export interface UpdatePlayerRequest {
  track?: UpdatePlayerTrack;
  /** Deprecated, exclusive with `identifier` and `track`. */
  encodedTrack?: string | null;
  /** Deprecated, exclusive with `encodedTrack` and `track`. */
  identifier?: string;
  /** Position in ms. */
  position?: number;
  /** End time in ms (> 0); `null` resets it. */
  endTime?: number | null;
  /** Volume in percent, 0–1000. */
  volume?: number;
  paused?: boolean;
  /** Replaces all filters. */
  filters?: Filters;
  voice?: VoiceState;
}

// ---------------------------------------------------------------------------------------------
// Sessions, info, stats (rest.md "Session API", "Get Lavalink info"; websocket.md "Stats OP")

/** `PATCH /v4/sessions/{sessionId}` body. */
export interface UpdateSessionRequest {
  resuming?: boolean;
  /** Seconds. */
  timeout?: number;
}

/** `PATCH /v4/sessions/{sessionId}` response. */
export interface SessionInfo {
  resuming: boolean;
  /** Seconds (default 60). */
  timeout: number;
}

/** Version object (rest.md "Version Object"). */
export interface VersionInfo {
  semver: string;
  major: number;
  minor: number;
  patch: number;
  preRelease: string | null;
  build: string | null;
}

/** Git object (rest.md "Git Object"). */
export interface GitInfo {
  branch: string;
  commit: string;
  /** ms since the epoch. */
  commitTime: number;
}

/** Plugin object (rest.md "Plugin Object"). */
export interface PluginInfo {
  name: string;
  version: string;
}

/** `GET /v4/info` response (rest.md "Info Response"). */
export interface Info {
  version: VersionInfo;
  /** ms since the epoch. */
  buildTime: number;
  git: GitInfo;
  /** Lavalink: the JVM version; here the runtime, e.g. Node's version. */
  jvm: string;
  lavaplayer: string;
  sourceManagers: string[];
  filters: string[];
  plugins: PluginInfo[];
}

/** Memory stats in bytes (websocket.md "Memory"). */
export interface MemoryStats {
  free: number;
  used: number;
  allocated: number;
  reservable: number;
}

/** CPU stats (websocket.md "CPU"). */
export interface CpuStats {
  cores: number;
  /** System load, 0–1 (fraction of all cores). */
  systemLoad: number;
  /** This process's load, 0–1. */
  lavalinkLoad: number;
}

/** Frame stats, per-player averages over the last minute (websocket.md "Frame Stats"). */
export interface FrameStats {
  sent: number;
  nulled: number;
  /** Expected (3000 per player per minute) minus sent; negative when too many were sent. */
  deficit: number;
}

/** Stats object (websocket.md "Stats Object"; `GET /v4/stats` never has `frameStats`). */
export interface Stats {
  players: number;
  playingPlayers: number;
  /** ms. */
  uptime: number;
  memory: MemoryStats;
  cpu: CpuStats;
  /** null without players; absent from `GET /v4/stats`. */
  frameStats?: FrameStats | null;
}

// ---------------------------------------------------------------------------------------------
// WebSocket messages (websocket.md "OP Types", "Event Types")

/** `ready` op. */
export interface ReadyOp {
  op: 'ready';
  resumed: boolean;
  sessionId: string;
}

/** `playerUpdate` op. */
export interface PlayerUpdateOp {
  op: 'playerUpdate';
  guildId: string;
  state: PlayerState;
}

/** `stats` op. */
export interface StatsOp extends Stats {
  op: 'stats';
}

/** Why a track ended (websocket.md "Track End Reason"). */
/** `finished` and `loadFailed` may start the next track; the others may not. */
export type TrackEndReason = 'finished' | 'loadFailed' | 'stopped' | 'replaced' | 'cleanup';

interface EventBase {
  op: 'event';
  guildId: string;
}

/** TrackStartEvent. */
export interface TrackStartEvent extends EventBase {
  type: 'TrackStartEvent';
  track: Track;
}

/** TrackEndEvent. */
export interface TrackEndEvent extends EventBase {
  type: 'TrackEndEvent';
  track: Track;
  reason: TrackEndReason;
}

/** TrackExceptionEvent. */
export interface TrackExceptionEvent extends EventBase {
  type: 'TrackExceptionEvent';
  track: Track;
  exception: Exception;
}

/** TrackStuckEvent. */
export interface TrackStuckEvent extends EventBase {
  type: 'TrackStuckEvent';
  track: Track;
  /** The threshold exceeded, ms. */
  thresholdMs: number;
}

/** WebSocketClosedEvent (the voice WebSocket to Discord closed). */
export interface WebSocketClosedEvent extends EventBase {
  type: 'WebSocketClosedEvent';
  /** Discord's voice close code (4xxx are bad). */
  code: number;
  reason: string;
  byRemote: boolean;
}

/** Every `event` op. */
export type LavalinkEvent = TrackStartEvent | TrackEndEvent | TrackExceptionEvent | TrackStuckEvent | WebSocketClosedEvent;

/** The type names of {@link LavalinkEvent}. */
export type LavalinkEventType = LavalinkEvent['type'];

/** Every message the node sends on `/v4/websocket`. */
export type OutgoingMessage = ReadyOp | PlayerUpdateOp | StatsOp | LavalinkEvent;
