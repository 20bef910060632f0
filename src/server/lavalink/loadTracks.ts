/**
 * `GET /v4/loadtracks` for this node's sources: `http` (any http(s) URL ffmpeg reads) and
 * `local` (a file path), probed with `ffmpeg -i`.
 */

import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { findFfmpeg } from '../../sources/findFfmpeg';
import type { LavalinkNodeConfig, LavalinkSourcesConfig } from './config';
import { encodeTrack } from './trackCodec';
import type { Exception, LoadResult, Severity, Track, TrackInfo } from './types';

/** What {@link loadTracks} needs of the node's configuration. */
export interface LoadTracksConfig extends Partial<Pick<LavalinkNodeConfig, 'connectTimeoutMs' | 'socketTimeoutMs'>> {
  /** Which of this node's sources are on (a whole {@link LavalinkNodeConfig} fits). */
  sources: Readonly<Pick<LavalinkSourcesConfig, 'http' | 'local'>>;
}

/** Options of {@link loadTracks}. */
export interface LoadTracksOptions {
  /** Give up probing after this long, ms (then an `error` result). Default 15000. */
  timeoutMs?: number;
  /** The ffmpeg to run. Default {@link findFfmpeg}`()`. */
  ffmpegPath?: string;
}

/** lavaplayer's length of a track without one (a stream): Java's Long.MAX_VALUE, ms. */
const STREAM_LENGTH = 9223372036854775807;
const UNKNOWN_TITLE = 'Unknown title';
const UNKNOWN_ARTIST = 'Unknown artist';
/** Keep at most this much of ffmpeg's stderr. */
const MAX_STDERR = 256 * 1024;

/** Search prefixes of Lavalink and its common plugins (LavaSrc, youtube-source, …), and any `<name>search:`. */
const OTHER_PREFIXES = /^(?:[a-z][a-z0-9]*search|sprec|dzisrc|dzrec|ymrec|vkrec|amrec|speak|tts|ftts|ytrec):/i;

function exception(message: string, severity: Severity, cause: string): LoadResult {
  const data: Exception = { message, severity, cause, causeStackTrace: cause };
  return { loadType: 'error', data };
}

function enabledSources(config: LoadTracksConfig): string {
  const on = (['http', 'local'] as const).filter((s) => config.sources[s]);
  return on.length === 0 ? 'none (both http and local are off in its config)' : on.join(', ');
}

/** ffmpeg's demuxer name → lavaplayer's probe name (for the encoded track's source details). */
function probeName(format: string): string {
  const first = format.split(',')[0];
  if (first === 'matroska') return 'matroska/webm';
  if (first === 'mov') return 'mp4';
  if (first === 'aac') return 'adts';
  if (first === 'mpegts') return 'mpegts-adts';
  if (first === 'hls') return 'm3u';
  return first;
}

/** What `ffmpeg -i` said about its input. */
interface Probe {
  format: string;
  durationMs: number | null;
  metadata: Map<string, string>;
  hasAudio: boolean;
}

function parseProbe(stderr: string): Probe | null {
  const lines = stderr.split(/\r?\n/);
  const start = lines.findIndex((l) => /^Input #0, /.test(l));
  if (start < 0) return null;
  const format = /^Input #0, (.+?), from /.exec(lines[start])?.[1] ?? 'unknown';
  const metadata = new Map<string, string>();
  let durationMs: number | null = null;
  let hasAudio = false;
  let inFormatMetadata = false;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (/^\S/.test(line)) break; // the next top-level block (another input, an error)
    if (/^ {2}Metadata:/.test(line)) {
      inFormatMetadata = true;
      continue;
    }
    const meta = /^ {4}(\S[^:]*?)\s*: (.*)$/.exec(line);
    if (inFormatMetadata && meta !== null) {
      const key = meta[1].toLowerCase();
      if (!metadata.has(key)) metadata.set(key, meta[2].trim());
      continue;
    }
    inFormatMetadata = false;
    const dur = /^ {2}Duration: (?:(\d+):(\d\d):(\d\d(?:\.\d+)?)|N\/A)/.exec(line);
    if (dur !== null) {
      durationMs = dur[1] === undefined ? null : Math.round((Number(dur[1]) * 3600 + Number(dur[2]) * 60 + Number(dur[3])) * 1000);
      continue;
    }
    if (/^\s+Stream #0:\d+.*?: Audio: /.test(line)) hasAudio = true;
  }
  return { format, durationMs, metadata, hasAudio };
}

function runFfmpeg(ffmpeg: string, args: string[], timeoutMs: number): Promise<{ stderr: string; timedOut: boolean; spawnError: Error | null }> {
  return new Promise((done) => {
    let stderr = '';
    let timedOut = false;
    let spawnError: Error | null = null;
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'], windowsHide: true });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk;
    });
    child.on('error', (err) => {
      spawnError = err;
    });
    child.on('close', () => {
      clearTimeout(timer);
      done({ stderr, timedOut, spawnError });
    });
  });
}

function lastLine(text: string): string {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '' && !/output file must be specified/.test(l));
  return lines[lines.length - 1]?.trim() ?? 'ffmpeg gave no reason';
}

function makeTrack(info: TrackInfo, probe: string): Track {
  return { encoded: encodeTrack({ info, probeInfo: probe }), info, pluginInfo: {}, userData: {} };
}

async function probeInput(
  kind: 'http' | 'local',
  identifier: string,
  input: string,
  config: LoadTracksConfig,
  options: LoadTracksOptions,
): Promise<LoadResult> {
  let ffmpeg: string;
  try {
    ffmpeg = options.ffmpegPath ?? findFfmpeg();
  } catch (err) {
    return exception('This node cannot load tracks: ffmpeg was not found.', 'fault', String(err));
  }
  const args = ['-hide_banner', '-nostdin'];
  if (kind === 'http') {
    const rw = Math.max(config.socketTimeoutMs ?? 3000, config.connectTimeoutMs ?? 3000, 1000);
    args.push('-protocol_whitelist', 'http,https,tls,tcp,crypto,httpproxy', '-rw_timeout', String(rw * 1000));
  } else {
    args.push('-protocol_whitelist', 'file');
  }
  args.push('-i', input);
  const run = await runFfmpeg(ffmpeg, args, options.timeoutMs ?? 15000);
  if (run.spawnError !== null) {
    return exception('This node cannot load tracks: ffmpeg could not be started.', 'fault', String(run.spawnError));
  }
  const probe = parseProbe(run.stderr);
  if (probe === null) {
    const why = lastLine(run.stderr);
    if (run.timedOut) return exception(kind === 'http' ? 'Connecting to the URL failed.' : 'Failed to open file for reading.', 'suspicious', `timed out after ${options.timeoutMs ?? 15000} ms`);
    if (kind === 'http') {
      const status = /(?:Server returned|HTTP error) (\d{3})/.exec(run.stderr);
      if (status?.[1] === '404') return { loadType: 'empty', data: {} };
      if (status !== null) return exception('That URL is not playable.', 'common', `Status code ${status[1]}: ${why}`);
    }
    if (/Invalid data found|could not find codec|Unknown input format|no such demuxer/i.test(run.stderr)) {
      return exception('Unknown file format.', 'common', why);
    }
    return exception(kind === 'http' ? 'Connecting to the URL failed.' : 'Failed to open file for reading.', 'suspicious', why);
  }
  if (!probe.hasAudio) return exception('Unknown file format.', 'common', `${probe.format} input without an audio stream`);

  const meta = probe.metadata;
  const isStream = probe.durationMs === null;
  const title =
    meta.get('title') ?? meta.get('streamtitle') ?? meta.get('icy-name') ?? (kind === 'local' ? basename(identifier) : UNKNOWN_TITLE);
  const info: TrackInfo = {
    identifier,
    isSeekable: !isStream,
    author: meta.get('artist') ?? meta.get('album_artist') ?? meta.get('composer') ?? UNKNOWN_ARTIST,
    length: probe.durationMs ?? STREAM_LENGTH,
    isStream,
    position: 0,
    title: title === '' ? UNKNOWN_TITLE : title,
    uri: identifier,
    artworkUrl: null,
    isrc: meta.get('isrc') ?? meta.get('tsrc') ?? null,
    sourceName: kind,
  };
  return { loadType: 'track', data: makeTrack(info, probeName(probe.format)) };
}

/**
 * Resolves an identifier to tracks, as `GET /v4/loadtracks?identifier=…` answers.
 *
 * - `http://`, `https://` (and `icy://`, read as `http://`) URLs, when `sources.http` is on:
 *   probed with `ffmpeg -i` (timeouts from `socketTimeoutMs`/`connectTimeoutMs`, whole probe
 *   `timeoutMs`). Title, author (`artist`, else `album_artist`) and ISRC from the container's
 *   metadata (`Unknown title` / `Unknown artist` without); length in ms from ffmpeg's
 *   `Duration:`, or — when it has none (`N/A`, e.g. a live stream) — `isStream: true`,
 *   `isSeekable: false` and length 9223372036854775807 (Java's Long.MAX_VALUE), as Lavalink.
 *   `uri` and `identifier` are the URL; `sourceName` `http`.
 * - a path of an existing file, when `sources.local` is on: the same, title falling back to
 *   the file name; `sourceName` `local`.
 *
 * Results follow lavaplayer's http and local sources: `track` with the track (`encoded` by
 * {@link encodeTrack}, with the probe, e.g. `mp3`); `empty` for a 404, a path that is not a
 * file, or an identifier no enabled source takes; `error` (an Exception) for other HTTP
 * statuses ("That URL is not playable.", common), a connection failure or timeout
 * ("Connecting to the URL failed.", suspicious), input ffmpeg cannot read or without audio
 * ("Unknown file format.", common). Search prefixes this node does not serve (`ytsearch:`,
 * `scsearch:`, `spsearch:` …) and URLs when `http` is off give an `error` (common) that names
 * the enabled sources.
 *
 * Source: Lavalink docs/api/rest.md "Track Loading"; lavaplayer HttpAudioSourceManager,
 * LocalAudioSourceManager, ProbingAudioSourceManager.
 *
 * @returns never rejects; failures are `error` results (`fault` when ffmpeg is missing).
 */
export async function loadTracks(identifier: string, config: LoadTracksConfig, options: LoadTracksOptions = {}): Promise<LoadResult> {
  const isUrl = /^(https?|icy):\/\//i.test(identifier);
  if (isUrl) {
    if (!config.sources.http) {
      return exception(
        `This node does not load URLs: its http source is off. Enabled sources: ${enabledSources(config)}.`,
        'common',
        `lavalink.server.sources.http is false; identifier ${identifier}`,
      );
    }
    const input = identifier.replace(/^icy:\/\//i, 'http://');
    return probeInput('http', identifier, input, config, options);
  }

  if (config.sources.local) {
    const path = resolve(identifier);
    let isFile = false;
    try {
      isFile = statSync(path, { throwIfNoEntry: false })?.isFile() === true;
    } catch {
      isFile = false;
    }
    if (isFile) return probeInput('local', identifier, `file:${path}`, config, options);
  }

  const prefix = OTHER_PREFIXES.exec(identifier);
  if (prefix !== null) {
    const name = identifier.slice(0, identifier.indexOf(':') + 1);
    return exception(
      `This node does not serve "${name}" searches. Enabled sources: ${enabledSources(config)} — load an http(s) URL${config.sources.local ? ' or a file path' : ''} instead.`,
      'common',
      `no source for the prefix ${name} (this rxvoice node plays http(s) URLs and local files only)`,
    );
  }
  return { loadType: 'empty', data: {} };
}
