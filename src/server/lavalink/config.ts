/**
 * Reads Lavalink's own `application.yml`, so an existing Lavalink node's config file works.
 */

import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { RxVoiceError } from '../../errors';

/** Lavalink's source managers (`lavalink.server.sources.*`). This node serves `http` and `local`. */
export interface LavalinkSourcesConfig {
  youtube: boolean;
  bandcamp: boolean;
  soundcloud: boolean;
  twitch: boolean;
  vimeo: boolean;
  nico: boolean;
  /** Any http(s) URL ffmpeg can read. Default true. */
  http: boolean;
  /** Local file paths. Default false. */
  local: boolean;
}

/** The node's configuration, Lavalink's settings with Lavalink's defaults. */
export interface LavalinkNodeConfig {
  /** The file read (absolute path), or null when none was found and the defaults apply. */
  file: string | null;
  /** `server.port`: TCP port of the REST API and WebSocket. Default 2333. */
  port: number;
  /** `server.address`: address to listen on. Default `0.0.0.0` (all interfaces). */
  address: string;
  /**
   * `lavalink.server.password`: what every request's `Authorization` must equal. Default
   * `youshallnotpass` (the value in Lavalink's example config; Lavalink itself refuses every
   * request when no password is set).
   */
  password: string;
  /** `lavalink.server.sources.*`, Lavalink's defaults (youtube, bandcamp, soundcloud, twitch, vimeo, http on; nico, local off). */
  sources: LavalinkSourcesConfig;
  /**
   * `lavalink.server.filters.*` by Lavalink's filter name (`volume`, `equalizer`, `karaoke`,
   * `timescale`, `tremolo`, `vibrato`, `distortion`, `rotation`, `channelMix`, `lowPass`): all
   * true unless the file says false, as in Lavalink.
   */
  filters: Record<string, boolean>;
  /** `lavalink.server.playerUpdateInterval` (seconds in the file), in milliseconds. Default 5000. */
  playerUpdateIntervalMs: number;
  /** `lavalink.server.trackStuckThresholdMs`: no audio for this long → TrackStuckEvent. Default 10000. */
  trackStuckThresholdMs: number;
  /** `lavalink.server.opusEncodingQuality` (0–10, Opus complexity). Default 10. */
  opusEncodingQuality: number;
  /** `lavalink.server.timeouts.connectTimeoutMs`: HTTP source connect timeout. Default 3000. */
  connectTimeoutMs: number;
  /** `lavalink.server.timeouts.socketTimeoutMs`: HTTP source read timeout. Default 3000. */
  socketTimeoutMs: number;
  /** Resume timeout of a session until a client sets one (`PATCH /v4/sessions/{id}`), seconds. Lavalink's fixed default: 60. */
  resumeTimeoutSeconds: number;
  /** `metrics.prometheus.enabled`: serve Prometheus metrics. Default false. */
  metricsEnabled: boolean;
  /** `metrics.prometheus.endpoint`: their path, served without authorization as in Lavalink. Default `/metrics`. */
  metricsEndpoint: string;
  /**
   * Settings found in the file or environment that this node reads but does not apply (e.g.
   * `lavalink.server.bufferDurationMs`, `server.http2.enabled`), dotted, for a startup notice.
   */
  ignored: string[];
}

/** Overrides of {@link loadLavalinkConfig}: any field; `sources` and `filters` merge per key. */
export type LavalinkConfigOverrides = Partial<Omit<LavalinkNodeConfig, 'sources' | 'filters' | 'file' | 'ignored'>> & {
  sources?: Partial<LavalinkSourcesConfig>;
  filters?: Record<string, boolean>;
};

/** Options of {@link loadLavalinkConfig}. */
export interface LoadLavalinkConfigOptions {
  /** A config file to read (`--config`); it must exist. Relative paths resolve against `cwd`. */
  file?: string;
  /** Where to look for `application.yml` when no `file` is given. Default `process.cwd()`. */
  cwd?: string;
  /**
   * Environment variables, Spring style (`SERVER_PORT`, `LAVALINK_SERVER_PASSWORD`,
   * `LAVALINK_SERVER_SOURCES_LOCAL`, `LAVALINK_SERVER_FILTERS_CHANNEL_MIX`, …): they win over the
   * file, as in Lavalink. Default `process.env`; pass `{}` to ignore the environment.
   */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values that win over the file and the environment (command-line flags). */
  overrides?: LavalinkConfigOverrides;
}

const FILTER_NAMES = ['volume', 'equalizer', 'karaoke', 'timescale', 'tremolo', 'vibrato', 'distortion', 'rotation', 'channelMix', 'lowPass'] as const;
const SOURCE_NAMES = ['youtube', 'bandcamp', 'soundcloud', 'twitch', 'vimeo', 'nico', 'http', 'local'] as const;

function defaults(): LavalinkNodeConfig {
  return {
    file: null,
    port: 2333,
    address: '0.0.0.0',
    password: 'youshallnotpass',
    sources: { youtube: true, bandcamp: true, soundcloud: true, twitch: true, vimeo: true, nico: false, http: true, local: false },
    filters: Object.fromEntries(FILTER_NAMES.map((f) => [f, true])),
    playerUpdateIntervalMs: 5000,
    trackStuckThresholdMs: 10000,
    opusEncodingQuality: 10,
    connectTimeoutMs: 3000,
    socketTimeoutMs: 3000,
    resumeTimeoutSeconds: 60,
    metricsEnabled: false,
    metricsEndpoint: '/metrics',
    ignored: [],
  };
}

type Kind = 'string' | 'boolean' | 'port' | 'int';

interface Setting {
  path: readonly string[];
  kind: Kind;
  apply(cfg: LavalinkNodeConfig, value: string | number | boolean): void;
}

const SETTINGS: readonly Setting[] = [
  { path: ['server', 'port'], kind: 'port', apply: (c, v) => (c.port = v as number) },
  { path: ['server', 'address'], kind: 'string', apply: (c, v) => (c.address = v as string) },
  { path: ['lavalink', 'server', 'password'], kind: 'string', apply: (c, v) => (c.password = v as string) },
  ...SOURCE_NAMES.map(
    (s): Setting => ({ path: ['lavalink', 'server', 'sources', s], kind: 'boolean', apply: (c, v) => (c.sources[s] = v as boolean) }),
  ),
  { path: ['lavalink', 'server', 'playerUpdateInterval'], kind: 'int', apply: (c, v) => (c.playerUpdateIntervalMs = (v as number) * 1000) },
  { path: ['lavalink', 'server', 'trackStuckThresholdMs'], kind: 'int', apply: (c, v) => (c.trackStuckThresholdMs = v as number) },
  { path: ['lavalink', 'server', 'opusEncodingQuality'], kind: 'int', apply: (c, v) => (c.opusEncodingQuality = v as number) },
  { path: ['lavalink', 'server', 'timeouts', 'connectTimeoutMs'], kind: 'int', apply: (c, v) => (c.connectTimeoutMs = v as number) },
  { path: ['lavalink', 'server', 'timeouts', 'socketTimeoutMs'], kind: 'int', apply: (c, v) => (c.socketTimeoutMs = v as number) },
  { path: ['metrics', 'prometheus', 'enabled'], kind: 'boolean', apply: (c, v) => (c.metricsEnabled = v as boolean) },
  { path: ['metrics', 'prometheus', 'endpoint'], kind: 'string', apply: (c, v) => (c.metricsEndpoint = v as string) },
];

/** Settings Lavalink has that this node accepts and does not apply. */
const IGNORED: readonly (readonly string[])[] = [
  ['server', 'http2', 'enabled'],
  ['lavalink', 'server', 'bufferDurationMs'],
  ['lavalink', 'server', 'frameBufferDurationMs'],
  ['lavalink', 'server', 'nonAllocatingFrameBuffer'],
  ['lavalink', 'server', 'resamplingQuality'],
  ['lavalink', 'server', 'useSeekGhosting'],
  ['lavalink', 'server', 'youtubePlaylistLoadLimit'],
  ['lavalink', 'server', 'youtubeSearchEnabled'],
  ['lavalink', 'server', 'soundcloudSearchEnabled'],
  ['lavalink', 'server', 'soundcloudFilterOutPreviewTracks'],
  ['lavalink', 'server', 'gcWarnings'],
  ['lavalink', 'server', 'ratelimit'],
  ['lavalink', 'server', 'youtubeConfig'],
  ['lavalink', 'server', 'httpConfig'],
  ['lavalink', 'server', 'timeouts', 'connectionRequestTimeoutMs'],
  ['lavalink', 'plugins'],
  ['plugins'],
  ['logging'],
  ['sentry'],
];

/** Spring's relaxed binding: `player-update-interval`, `player_update_interval` and `playerUpdateInterval` are one key. */
const norm = (key: string): string => key.replace(/[-_]/g, '').toLowerCase();

type YamlMap = { [key: string]: unknown };

const isMap = (v: unknown): v is YamlMap => typeof v === 'object' && v !== null && !Array.isArray(v);

function lookup(root: unknown, path: readonly string[]): { found: boolean; value: unknown } {
  let node: unknown = root;
  for (const seg of path) {
    if (!isMap(node)) return { found: false, value: undefined };
    const key = Object.keys(node).find((k) => norm(k) === norm(seg));
    if (key === undefined) return { found: false, value: undefined };
    node = node[key];
  }
  return { found: true, value: node };
}

/** Environment variable names of a setting: dots to `_`, upper case; camelCase with or without `_`. */
function envNames(path: readonly string[]): string[] {
  const plain = path.map((s) => s.replace(/-/g, '').toUpperCase()).join('_');
  const split = path.map((s) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/-/g, '_').toUpperCase()).join('_');
  return plain === split ? [plain] : [plain, split];
}

function coerce(value: unknown, kind: Kind, where: string): string | number | boolean {
  const fail = (): never => {
    const want = kind === 'port' ? 'a port (0 to 65535)' : kind === 'int' ? 'an integer' : kind === 'boolean' ? 'true or false' : 'a string';
    throw new RxVoiceError('BAD_CONFIG', `${where} is ${JSON.stringify(value)}, expected ${want}`);
  };
  switch (kind) {
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return fail();
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
      return fail();
    case 'int':
    case 'port': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : NaN;
      if (!Number.isSafeInteger(n)) return fail();
      if (kind === 'port' && (n < 0 || n > 65535)) return fail();
      return n;
    }
  }
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new RxVoiceError('BAD_CONFIG', `cannot read the Lavalink config ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return parseYaml(text, { prettyErrors: true }) ?? {};
  } catch (err) {
    throw new RxVoiceError('BAD_CONFIG', `invalid YAML in the Lavalink config ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/** Where Spring Boot (so Lavalink) looks for its config in the working directory, highest precedence first. */
const CANDIDATES = ['config/application.yml', 'config/application.yaml', 'application.yml', 'application.yaml'];

function findConfig(cwd: string): string | null {
  for (const name of CANDIDATES) {
    const path = join(cwd, name);
    if (statSync(path, { throwIfNoEntry: false })?.isFile() === true) return resolve(path);
  }
  return null;
}

/**
 * Loads the node's configuration from Lavalink's own `application.yml`.
 *
 * Looks for `config/application.yml`, then `application.yml` (`.yaml` too) in `cwd`, as
 * Lavalink (Spring Boot) does, unless `file` names one; with no file, Lavalink's defaults
 * apply. Reads `server.port`/`address`, `lavalink.server.password`, `.sources.*`, `.filters.*`,
 * `.playerUpdateInterval` (seconds), `.trackStuckThresholdMs`, `.opusEncodingQuality`,
 * `.timeouts.{connect,socket}TimeoutMs`, `metrics.prometheus.{enabled,endpoint}`; keys match
 * with Spring's relaxed binding (kebab-case or camelCase). Other Lavalink settings (e.g.
 * `bufferDurationMs`) are listed in `ignored`; unknown keys are ignored. Then the environment
 * (`SERVER_PORT`, `LAVALINK_SERVER_PASSWORD`, …) and finally `overrides` win.
 *
 * Source: Lavalink docs/configuration/config/{file,environment-variables}.md,
 * `LavalinkServer/application.yml.example`.
 *
 * @throws {RxVoiceError} `BAD_CONFIG` (message names the file or variable) when `file` cannot
 *   be read, the YAML is invalid, or a setting has the wrong type (e.g. a port that is not a
 *   number in 0–65535).
 */
export function loadLavalinkConfig(options: LoadLavalinkConfigOptions = {}): LavalinkNodeConfig {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const cfg = defaults();

  const file = options.file !== undefined ? resolve(cwd, options.file) : findConfig(cwd);
  if (file !== null) {
    const doc = readYaml(file);
    if (!isMap(doc)) throw new RxVoiceError('BAD_CONFIG', `the Lavalink config ${file} is not a YAML mapping`);
    cfg.file = file;
    for (const s of SETTINGS) {
      const { found, value } = lookup(doc, s.path);
      if (found && value !== null) s.apply(cfg, coerce(value, s.kind, `${s.path.join('.')} in ${file}`));
    }
    const filters = lookup(doc, ['lavalink', 'server', 'filters']);
    if (filters.found && isMap(filters.value)) {
      for (const [key, value] of Object.entries(filters.value)) {
        if (value === null) continue;
        const name = FILTER_NAMES.find((f) => norm(f) === norm(key)) ?? key;
        cfg.filters[name] = coerce(value, 'boolean', `lavalink.server.filters.${key} in ${file}`) as boolean;
      }
    } else if (filters.found && filters.value !== null) {
      throw new RxVoiceError('BAD_CONFIG', `lavalink.server.filters in ${file} is not a mapping`);
    }
    for (const path of IGNORED) {
      const { found, value } = lookup(doc, path);
      if (found && value !== null) cfg.ignored.push(path.join('.'));
    }
  }

  for (const s of SETTINGS) {
    for (const name of envNames(s.path)) {
      const value = env[name];
      if (value !== undefined) {
        s.apply(cfg, coerce(value, s.kind, `environment variable ${name}`));
        break;
      }
    }
  }
  for (const f of FILTER_NAMES) {
    for (const name of envNames(['lavalink', 'server', 'filters', f])) {
      const value = env[name];
      if (value !== undefined) {
        cfg.filters[f] = coerce(value, 'boolean', `environment variable ${name}`) as boolean;
        break;
      }
    }
  }

  const { sources, filters, ...rest } = options.overrides ?? {};
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) Object.assign(cfg, { [key]: value });
  }
  if (sources !== undefined) {
    for (const [key, value] of Object.entries(sources)) if (value !== undefined) cfg.sources[key as keyof LavalinkSourcesConfig] = value;
  }
  if (filters !== undefined) Object.assign(cfg.filters, filters);
  return cfg;
}
