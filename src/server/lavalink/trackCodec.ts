/**
 * Lavalink's encoded tracks: lavaplayer's binary track message, base64-encoded.
 *
 * Layout (all integers big-endian; written here from lavaplayer's `DefaultAudioPlayerManager`
 * encode/decode, `MessageOutput`/`MessageInput` and `DataFormatTools`):
 *
 * | bytes | field |
 * |-------|-------|
 * | u32   | header: `flags << 30 \| bodyLength` (flag bit 0 = "versioned") |
 * | u8    | version, only when versioned (version 1 otherwise); 3 is current |
 * | text  | title |
 * | text  | author |
 * | i64   | length, ms (`Long.MAX_VALUE` for streams) |
 * | text  | identifier |
 * | bool  | isStream |
 * | ?text | uri (version ≥ 2) |
 * | ?text | artworkUrl (version ≥ 3) |
 * | ?text | isrc (version ≥ 3) |
 * | text  | sourceName |
 * | …     | source-specific details (`http`, `local`: one text, the container probe, e.g. `mp3`) |
 * | i64   | position, ms |
 *
 * `text` is Java's `DataOutput.writeUTF`: a u16 byte count, then "modified UTF-8" (each UTF-16
 * code unit on its own: U+0000 as `C0 80`, U+0001–U+007F one byte, up to U+07FF two bytes,
 * the rest — surrogates included, so non-BMP characters take 2 × 3 bytes — three bytes).
 * `?text` is a bool (present) followed by a text when true. `bool` is one byte, non-zero = true.
 */

import { RxVoiceError } from '../../errors';
import type { TrackInfo } from './types';

/** The version {@link encodeTrack} writes (lavaplayer's current `TRACK_INFO_VERSION`). */
const TRACK_VERSION = 3;
/** Header flag bit: the body starts with a version byte. */
const FLAG_VERSIONED = 1;
/** Java's Long.MAX_VALUE, lavaplayer's length of a stream. */
const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);
/** The largest byte count of a Java `writeUTF` text. */
const MAX_UTF_BYTES = 0xffff;
/** The largest body the 30-bit header size can hold. */
const MAX_BODY = 0x3fffffff;
/** Sources whose details are one text naming lavaplayer's container probe. */
const PROBING_SOURCES: ReadonlySet<string> = new Set(['http', 'local']);

/** A track decoded by {@link decodeTrackDetails}. */
export interface DecodedTrack {
  /** The track's info, as Lavalink's REST API shows it (`isSeekable` = `!isStream`). */
  info: TrackInfo;
  /** The format version read (1, 2 or 3). */
  version: number;
  /**
   * For `http` and `local` tracks: lavaplayer's container probe, with `|parameters` if any
   * (e.g. `"mp3"`, `"matroska/webm"`, `"mpegts-adts"`); null for other sources.
   */
  probeInfo: string | null;
  /** The raw source-specific bytes between `sourceName` and `position` (kept so re-encoding is byte-identical). */
  details: Uint8Array;
}

/** What {@link encodeTrack} takes: a track's info and, optionally, its source-specific data. */
export interface EncodableTrack {
  info: TrackInfo;
  /**
   * Container probe for `http`/`local` tracks (lavaplayer's probe name, e.g. `"mp3"`). When
   * absent and `details` is absent too, it is guessed from the URI's or identifier's file
   * extension (`mp3` when there is none). Ignored for other sources.
   */
  probeInfo?: string | null;
  /** Raw source-specific bytes to write as they are (wins over `probeInfo`); from {@link decodeTrackDetails}. */
  details?: Uint8Array;
  /**
   * Format version to write, 1–3 (default 3). Older versions leave out the fields they lack
   * (1: uri, artworkUrl, isrc; 2: artworkUrl, isrc); a {@link DecodedTrack} carries the version
   * it was read with, so re-encoding it gives the same bytes.
   */
  version?: number;
}

/** lavaplayer's probe names by file extension (its `MediaContainer` probes). */
const PROBE_BY_EXTENSION: Readonly<Record<string, string>> = {
  mp3: 'mp3',
  flac: 'flac',
  wav: 'wav',
  ogg: 'ogg',
  oga: 'ogg',
  opus: 'ogg',
  mka: 'matroska/webm',
  mkv: 'matroska/webm',
  webm: 'matroska/webm',
  mp4: 'mp4',
  m4a: 'mp4',
  m4b: 'mp4',
  mov: 'mp4',
  aac: 'adts',
  ts: 'mpegts-adts',
  m3u: 'm3u',
  m3u8: 'm3u',
  pls: 'pls',
};

function guessProbe(info: TrackInfo): string {
  for (const candidate of [info.uri, info.identifier]) {
    if (candidate === null || candidate === '') continue;
    const path = candidate.replace(/[?#].*$/s, '');
    const dot = path.lastIndexOf('.');
    const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
    if (dot > slash) {
      const probe = PROBE_BY_EXTENSION[path.slice(dot + 1).toLowerCase()];
      if (probe !== undefined) return probe;
    }
  }
  return 'mp3';
}

// ---------------------------------------------------------------------------------------------
// Writing

class Writer {
  private buf = new Uint8Array(256);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.length++] = v & 0xff;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  i64(v: number, field: string): void {
    if (!Number.isFinite(v)) throw new RxVoiceError('BAD_TRACK', `cannot encode the track: ${field} is ${v}, not a finite number`);
    let big = BigInt(Math.trunc(v));
    // 9223372036854775807 becomes 2^63 as a double; lavaplayer means Long.MAX_VALUE.
    if (big > LONG_MAX) big = LONG_MAX;
    if (big < LONG_MIN) big = LONG_MIN;
    this.reserve(8);
    new DataView(this.buf.buffer, this.length, 8).setBigInt64(0, big);
    this.length += 8;
  }

  text(s: string, field: string): void {
    let n = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      n += c >= 0x0001 && c <= 0x007f ? 1 : c <= 0x07ff ? 2 : 3;
    }
    if (n > MAX_UTF_BYTES) {
      throw new RxVoiceError('BAD_TRACK', `cannot encode the track: ${field} takes ${n} bytes in modified UTF-8, more than ${MAX_UTF_BYTES}`);
    }
    this.reserve(2 + n);
    const b = this.buf;
    let o = this.length;
    b[o++] = n >>> 8;
    b[o++] = n & 0xff;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x0001 && c <= 0x007f) {
        b[o++] = c;
      } else if (c <= 0x07ff) {
        b[o++] = 0xc0 | (c >>> 6);
        b[o++] = 0x80 | (c & 0x3f);
      } else {
        b[o++] = 0xe0 | (c >>> 12);
        b[o++] = 0x80 | ((c >>> 6) & 0x3f);
        b[o++] = 0x80 | (c & 0x3f);
      }
    }
    this.length = o;
  }

  nullableText(s: string | null | undefined, field: string): void {
    this.bool(s != null);
    if (s != null) this.text(s, field);
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/**
 * Encodes a track the way Lavalink (lavaplayer) does, as format version 3 (or the `version` given).
 *
 * `info.length` and `info.position` are written as Java longs (ms; a length of
 * `9223372036854775807` — which JavaScript rounds up — stays Long.MAX_VALUE). `http` and
 * `local` tracks carry a container probe name (see {@link EncodableTrack.probeInfo}); other
 * sources carry `details` if given, else nothing (as lavaplayer's YouTube source).
 * `info.isSeekable` is not part of the format.
 *
 * Source: Lavalink docs/api/rest.md "Track" (`encoded`); lavaplayer `DefaultAudioPlayerManager.encodeTrack`.
 *
 * @returns standard base64 with padding, as Lavalink sends it.
 * @throws {RxVoiceError} `BAD_TRACK` when a text is longer than 65535 bytes in modified UTF-8,
 *   length/position is not a finite number, or `version` is not 1–3.
 */
export function encodeTrack(track: EncodableTrack): string {
  const { info } = track;
  const version = track.version ?? TRACK_VERSION;
  if (!Number.isInteger(version) || version < 1 || version > TRACK_VERSION) {
    throw new RxVoiceError('BAD_TRACK', `cannot encode the track: version ${version} is not 1 to ${TRACK_VERSION}`);
  }
  const w = new Writer();
  w.u8(0);
  w.u8(0);
  w.u8(0);
  w.u8(0); // header, filled in below
  if (version > 1) w.u8(version);
  w.text(info.title, 'title');
  w.text(info.author, 'author');
  w.i64(info.length, 'length');
  w.text(info.identifier, 'identifier');
  w.bool(info.isStream);
  if (version >= 2) w.nullableText(info.uri, 'uri');
  if (version >= 3) {
    w.nullableText(info.artworkUrl, 'artworkUrl');
    w.nullableText(info.isrc, 'isrc');
  }
  w.text(info.sourceName, 'sourceName');
  if (track.details !== undefined) {
    w.bytes(track.details);
  } else if (PROBING_SOURCES.has(info.sourceName)) {
    w.text(track.probeInfo ?? guessProbe(info), 'probeInfo');
  }
  w.i64(info.position, 'position');
  const out = w.result();
  const size = out.length - 4;
  if (size > MAX_BODY) throw new RxVoiceError('BAD_TRACK', `cannot encode the track: ${size} bytes is too long`);
  new DataView(out.buffer, out.byteOffset, 4).setUint32(0, (((version > 1 ? FLAG_VERSIONED : 0) << 30) | size) >>> 0);
  return Buffer.from(out.buffer, out.byteOffset, out.length).toString('base64');
}

// ---------------------------------------------------------------------------------------------
// Reading

class Reader {
  private pos: number;

  constructor(
    private readonly b: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  private need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new RxVoiceError('BAD_TRACK', `encoded track ends early: ${what} needs ${n} bytes at offset ${this.pos}, the message ends at ${this.end}`);
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.b[this.pos++];
  }

  bool(what: string): boolean {
    return this.u8(what) !== 0;
  }

  i64(what: string): number {
    this.need(8, what);
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 8).getBigInt64(0);
    this.pos += 8;
    return Number(v);
  }

  slice(to: number): Uint8Array {
    const s = this.b.slice(this.pos, to);
    this.pos = to;
    return s;
  }

  text(what: string): string {
    this.need(2, what);
    const n = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    this.need(n, what);
    const b = this.b;
    const stop = this.pos + n;
    const units: number[] = [];
    let i = this.pos;
    const bad = (): RxVoiceError =>
      new RxVoiceError('BAD_TRACK', `encoded track has malformed modified UTF-8 in ${what} at offset ${i}`);
    while (i < stop) {
      const a = b[i];
      if (a < 0x80) {
        units.push(a);
        i += 1;
      } else if ((a & 0xe0) === 0xc0) {
        if (i + 2 > stop || (b[i + 1] & 0xc0) !== 0x80) throw bad();
        units.push(((a & 0x1f) << 6) | (b[i + 1] & 0x3f));
        i += 2;
      } else if ((a & 0xf0) === 0xe0) {
        if (i + 3 > stop || (b[i + 1] & 0xc0) !== 0x80 || (b[i + 2] & 0xc0) !== 0x80) throw bad();
        units.push(((a & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f));
        i += 3;
      } else {
        throw bad();
      }
    }
    this.pos = stop;
    let s = '';
    for (let k = 0; k < units.length; k += 4096) s += String.fromCharCode(...units.slice(k, k + 4096));
    return s;
  }

  nullableText(what: string): string | null {
    return this.bool(what) ? this.text(what) : null;
  }
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decodes an encoded track with its format version and source-specific data.
 *
 * Reads format versions 1 (no version byte; no uri, artworkUrl, isrc), 2 (uri) and 3. Accepts
 * standard or URL-safe base64, padded or not. Bytes after the message (and unread bytes at the
 * message's end, as lavaplayer skips them) are ignored. The source-specific bytes are the ones
 * between `sourceName` and the final 8-byte position; for `http`/`local` their leading text is
 * the probe.
 *
 * Source: Lavalink docs/api/rest.md "Track Decoding"; lavaplayer `DefaultAudioPlayerManager.decodeTrack`.
 *
 * @throws {RxVoiceError} `BAD_TRACK` for anything that is not such a track: not base64, a
 *   header whose size exceeds the data or is 0, a field that runs past the message, malformed
 *   modified UTF-8, a version other than 1–3. Never any other error.
 */
export function decodeTrackDetails(encoded: string): DecodedTrack {
  if (typeof encoded !== 'string' || encoded.length === 0) {
    throw new RxVoiceError('BAD_TRACK', 'encoded track is empty');
  }
  if ((!BASE64.test(encoded) && !BASE64URL.test(encoded)) || encoded.replace(/=+$/, '').length % 4 === 1) {
    throw new RxVoiceError('BAD_TRACK', 'encoded track is not base64');
  }
  const bytes = new Uint8Array(Buffer.from(encoded, BASE64.test(encoded) ? 'base64' : 'base64url'));
  if (bytes.length < 4) throw new RxVoiceError('BAD_TRACK', `encoded track is ${bytes.length} bytes, shorter than its 4-byte header`);
  const header = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
  const flags = header >>> 30;
  const size = header & 0x3fffffff;
  if (size === 0) throw new RxVoiceError('BAD_TRACK', 'encoded track has an empty message (size 0)');
  if (4 + size > bytes.length) {
    throw new RxVoiceError('BAD_TRACK', `encoded track's header says ${size} bytes, but only ${bytes.length - 4} follow`);
  }
  const end = 4 + size;
  const r = new Reader(bytes, 4, end);
  const version = (flags & FLAG_VERSIONED) !== 0 ? r.u8('version') : 1;
  if (version < 1 || version > TRACK_VERSION) {
    throw new RxVoiceError('BAD_TRACK', `encoded track has version ${version}; versions 1 to ${TRACK_VERSION} are known`);
  }
  const title = r.text('title');
  const author = r.text('author');
  const length = r.i64('length');
  const identifier = r.text('identifier');
  const isStream = r.bool('isStream');
  const uri = version >= 2 ? r.nullableText('uri') : null;
  const artworkUrl = version >= 3 ? r.nullableText('artworkUrl') : null;
  const isrc = version >= 3 ? r.nullableText('isrc') : null;
  const sourceName = r.text('sourceName');

  // The position is the message's last 8 bytes when the source wrote no more than lavaplayer's
  // own sources do; read the source's details up to there.
  const positionAt = end - 8;
  if (positionAt < r.offset) {
    throw new RxVoiceError('BAD_TRACK', `encoded track ends early: no room for the 8-byte position after sourceName (offset ${r.offset}, message ends at ${end})`);
  }
  let probeInfo: string | null = null;
  const detailsStart = r.offset;
  if (PROBING_SOURCES.has(sourceName)) {
    const probeReader = new Reader(bytes, detailsStart, positionAt);
    probeInfo = probeReader.text('probeInfo');
  }
  const details = r.slice(positionAt);
  const position = r.i64('position');

  return {
    info: { identifier, isSeekable: !isStream, author, length, isStream, position, title, uri, artworkUrl, isrc, sourceName },
    version,
    probeInfo,
    details,
  };
}

/**
 * Decodes an encoded track's info, as `GET /v4/decodetrack` returns it.
 *
 * Same format and errors as {@link decodeTrackDetails}; `isSeekable` is `!isStream`
 * (lavaplayer's http and local tracks are seekable unless streams).
 *
 * Source: Lavalink docs/api/rest.md "Track Decoding".
 *
 * @throws {RxVoiceError} `BAD_TRACK` when `encoded` is not a valid track.
 */
export function decodeTrack(encoded: string): TrackInfo {
  return decodeTrackDetails(encoded).info;
}
