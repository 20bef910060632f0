import type { Framer } from './Framer';

// Matroska / WebM element IDs (RFC 9559), with their length-marker bits, as numbers.
const ID_EBML = 0x1a45dfa3;
const ID_SEGMENT = 0x18538067;
const ID_CLUSTER = 0x1f43b675;
const ID_TRACKS = 0x1654ae6b;
const ID_TRACK_ENTRY = 0xae;
const ID_TRACK_NUMBER = 0xd7;
const ID_CODEC_ID = 0x86;
const ID_CODEC_PRIVATE = 0x63a2;
const ID_SIMPLE_BLOCK = 0xa3;
const ID_BLOCK_GROUP = 0xa0;
const ID_BLOCK = 0xa1;

/** Masters whose children are read in the stream (the only elements allowed an unknown size). */
const DESCEND: ReadonlySet<number> = new Set([ID_SEGMENT, ID_CLUSTER, ID_TRACKS]);
/** Elements read whole (their bodies are buffered, at most {@link MAX_ELEMENT_BYTES}). */
const WHOLE: ReadonlySet<number> = new Set([ID_EBML, ID_TRACK_ENTRY, ID_SIMPLE_BLOCK, ID_BLOCK_GROUP]);
/** Largest buffered element: far above any Opus block (≤ 120 ms, a few KiB) or track entry. */
const MAX_ELEMENT_BYTES = 16 * 1024 * 1024;

const OPUS_CODEC_ID = 'A_OPUS';
const OPUS_HEAD = Buffer.from('OpusHead', 'latin1');
const EMPTY = Buffer.alloc(0);

/** Thrown (and reported through {@link Framer.failure}) for input that is not well-formed WebM. */
export class WebmParseError extends Error {
  override readonly name = 'WebmParseError';
}

/** What {@link webmOpusFramer} found so far. */
export interface WebmOpusFramer extends Framer<Buffer> {
  /** Whether an Opus track (CodecID `A_OPUS`) was found. */
  readonly sawHead: boolean;
  /** The Opus track's CodecPrivate (its OpusHead, RFC 7845 §5.1) once found, else null. */
  readonly opusHead: Buffer | null;
}

/** A variable-size integer read from a buffer: its value and byte length. */
interface Vint {
  readonly value: number;
  readonly length: number;
  /** All value bits set: an "unknown" element size. */
  readonly unknown: boolean;
}

/**
 * The EBML variable-size integer at `buf[at]` (RFC 8794 §4): null when `buf` ends first.
 * `keepMarker` keeps the length-marker bit (element IDs are compared with it).
 * @throws {WebmParseError} when the first byte is 0 or the integer is longer than `maxLength`.
 */
export function readVint(buf: Buffer, at: number, maxLength: number, keepMarker: boolean): Vint | null {
  if (at >= buf.length) return null;
  const first = buf[at];
  const length = first === 0 ? 9 : Math.clz32(first) - 23;
  if (length > maxLength) throw new WebmParseError(`invalid EBML ${maxLength === 4 ? 'element ID' : 'integer'} at byte ${at}`);
  if (at + length > buf.length) return null;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = buf[at + i];
    value = value * 256 + byte;
    if (byte !== 0xff) allOnes = false;
  }
  return { value, length, unknown: !keepMarker && allOnes };
}

/** Unsigned big-endian integer element data (0–8 bytes; larger than 2^53 is an error). */
function readUint(data: Buffer): number {
  if (data.length > 8) throw new WebmParseError(`unsigned integer element of ${data.length} bytes`);
  let value = 0;
  for (const byte of data) value = value * 256 + byte;
  if (!Number.isSafeInteger(value)) throw new WebmParseError('unsigned integer element out of range');
  return value;
}

/** The children (`[id, data]`) of a master element's body, in order. */
function* children(body: Buffer, parent: string): Generator<[number, Buffer]> {
  let at = 0;
  while (at < body.length) {
    const id = readVint(body, at, 4, true);
    const size = id && readVint(body, at + id.length, 8, false);
    if (!id || !size || size.unknown || at + id.length + size.length + size.value > body.length) {
      throw new WebmParseError(`a child element of ${parent} overruns it`);
    }
    const start = at + id.length + size.length;
    yield [id.value, body.subarray(start, start + size.value)];
    at = start + size.value;
  }
}

/**
 * The frames of a Block or SimpleBlock body for `track` (RFC 9559 §10): none for another
 * track; one per lace when laced (Xiph, EBML or fixed-size lacing).
 * @throws {WebmParseError} on a malformed block or lacing.
 */
export function blockFrames(body: Buffer, track: number): Buffer[] {
  const number = readVint(body, 0, 8, false);
  if (!number || body.length < number.length + 3) throw new WebmParseError('block shorter than its header');
  if (number.value !== track) return [];
  let at = number.length + 3; // track number, int16 timestamp, flags
  const lacing = (body[at - 1] >> 1) & 0x03;
  if (lacing === 0) return [body.subarray(at)];
  if (at >= body.length) throw new WebmParseError('laced block without a frame count');
  const count = body[at++] + 1;
  const sizes: number[] = [];
  if (lacing === 1) {
    // Xiph lacing: each size but the last as a run of 255s ended by a byte < 255.
    for (let i = 0; i < count - 1; i++) {
      let size = 0;
      let byte = 255;
      while (byte === 255) {
        if (at >= body.length) throw new WebmParseError('Xiph lacing runs past the block');
        byte = body[at++];
        size += byte;
      }
      sizes.push(size);
    }
  } else if (lacing === 3) {
    // EBML lacing: the first size unsigned, then signed differences to the previous size.
    for (let i = 0; i < count - 1; i++) {
      const v = readVint(body, at, 8, false);
      if (!v) throw new WebmParseError('EBML lacing runs past the block');
      at += v.length;
      const size = i === 0 ? v.value : sizes[i - 1] + v.value - (2 ** (7 * v.length - 1) - 1);
      if (size < 0) throw new WebmParseError('negative EBML-laced frame size');
      sizes.push(size);
    }
  } else {
    // Fixed-size lacing: the rest split evenly.
    const rest = body.length - at;
    if (rest % count !== 0) throw new WebmParseError(`fixed-size lacing: ${rest} bytes do not split into ${count} frames`);
    for (let i = 0; i < count - 1; i++) sizes.push(rest / count);
  }
  const frames: Buffer[] = [];
  for (const size of sizes) {
    if (at + size > body.length) throw new WebmParseError('laced frames run past the block');
    frames.push(body.subarray(at, at + size));
    at += size;
  }
  frames.push(body.subarray(at));
  return frames;
}

/**
 * A {@link Framer} that demuxes the Opus packets of a WebM/Matroska byte stream: the frames
 * of every `SimpleBlock` and every `BlockGroup`'s `Block` of the first track whose CodecID
 * is `A_OPUS`, in file order, as views of the input chunks (no copy unless an element is
 * split across chunks). Lacing (Xiph, EBML, fixed) is split into its frames.
 *
 * Streams: Segments and Clusters of unknown size (live recordings, `MediaRecorder`) are
 * read; other elements (SeekHead, Cues, Tags, Void, video tracks' blocks…) are skipped
 * without being buffered. An incomplete element at the end of the input is dropped (a
 * truncated file ends with the whole blocks it had).
 *
 * A stream that does not start with an EBML header, an invalid EBML integer or element
 * size, a malformed block or lacing, an element larger than 16 MiB that would have to be
 * buffered, or Clusters after Tracks without an Opus track is a {@link WebmParseError},
 * reported through {@link Framer.failure} once the packets before it were read.
 */
export function webmOpusFramer(durationMs: (packet: Buffer) => number): WebmOpusFramer {
  let rest: Buffer = EMPTY; // unparsed bytes, from an element boundary on
  let skip = 0; // bytes of a skipped element still to drop
  let seenEbml = false;
  let seenTracks = false;
  let track = -1; // the Opus track's number
  let sawOpus = false;
  let head: Buffer | null = null;
  const codecs: string[] = [];
  let frames: Buffer[] = [];
  let frame = 0; // next of `frames`
  let failure: Error | null = null;
  let ended = false;

  const fail = (err: Error): void => {
    failure = err;
    rest = EMPTY;
    skip = 0;
  };

  const onTrackEntry = (body: Buffer): void => {
    let number = -1;
    let codec = '';
    let priv: Buffer | null = null;
    for (const [id, data] of children(body, 'TrackEntry')) {
      if (id === ID_TRACK_NUMBER) number = readUint(data);
      else if (id === ID_CODEC_ID) codec = data.toString('latin1').replace(/\0+$/, '');
      else if (id === ID_CODEC_PRIVATE) priv = data;
    }
    codecs.push(codec);
    if (track < 0 && codec === OPUS_CODEC_ID && number > 0) {
      track = number;
      sawOpus = true;
      head = priv !== null && priv.length >= 8 && priv.subarray(0, 8).equals(OPUS_HEAD) ? Buffer.from(priv) : null;
    }
  };

  const onBlock = (body: Buffer): void => {
    if (track < 0) {
      if (seenTracks) throw new WebmParseError(`no Opus track (codecs: ${codecs.join(', ') || 'none'})`);
      return; // a block before the Tracks: no track to match it to
    }
    for (const f of blockFrames(body, track)) frames.push(f);
  };

  /** Parses one element from `rest`; false when more bytes are needed. */
  const step = (): boolean => {
    if (skip > 0) {
      if (rest.length === 0) return false;
      const n = Math.min(skip, rest.length);
      skip -= n;
      rest = n === rest.length ? EMPTY : rest.subarray(n);
      return true;
    }
    const id = readVint(rest, 0, 4, true);
    if (!id) return false;
    if (!seenEbml && id.value !== ID_EBML) throw new WebmParseError('the input does not start with an EBML header (not WebM/Matroska)');
    const size = readVint(rest, id.length, 8, false);
    if (!size) return false;
    const headerLength = id.length + size.length;
    if (DESCEND.has(id.value)) {
      if (id.value === ID_TRACKS) seenTracks = true;
      else if (id.value === ID_CLUSTER && seenTracks && track < 0) {
        throw new WebmParseError(`no Opus track (codecs: ${codecs.join(', ') || 'none'})`);
      }
      rest = rest.subarray(headerLength); // read its children in the stream
      return true;
    }
    if (size.unknown) throw new WebmParseError(`element 0x${id.value.toString(16)} has an unknown size`);
    if (!Number.isSafeInteger(size.value)) throw new WebmParseError('element size out of range');
    if (!WHOLE.has(id.value)) {
      skip = size.value;
      rest = rest.subarray(headerLength);
      return true;
    }
    if (size.value > MAX_ELEMENT_BYTES) throw new WebmParseError(`element 0x${id.value.toString(16)} of ${size.value} bytes is too large`);
    const end = headerLength + size.value;
    if (rest.length < end) return false;
    const body = rest.subarray(headerLength, end);
    rest = rest.length === end ? EMPTY : rest.subarray(end);
    switch (id.value) {
      case ID_EBML:
        if (seenEbml) {
          // A chained stream: a new Segment with its own tracks follows.
          seenTracks = false;
          track = -1;
          codecs.length = 0;
        }
        seenEbml = true;
        break;
      case ID_TRACK_ENTRY:
        onTrackEntry(body);
        break;
      case ID_SIMPLE_BLOCK:
        onBlock(body);
        break;
      case ID_BLOCK_GROUP:
        for (const [child, data] of children(body, 'BlockGroup')) if (child === ID_BLOCK) onBlock(data);
        break;
    }
    return true;
  };

  /** Parses until a frame is ready or the bytes run out. */
  const advance = (): void => {
    while (frame >= frames.length && failure === null) {
      frames = [];
      frame = 0;
      try {
        if (!step()) return;
      } catch (err) {
        fail(err instanceof Error ? err : new WebmParseError(String(err)));
      }
    }
  };

  return {
    get sawHead() {
      return sawOpus;
    },
    get opusHead() {
      return head;
    },
    write(chunk) {
      if (!(chunk instanceof Uint8Array)) throw new TypeError(`expected a byte stream, got a chunk of type ${typeof chunk}`);
      if (failure || ended) return;
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      rest = rest.length === 0 ? bytes : Buffer.concat([rest, bytes]);
    },
    end() {
      // Whole elements still in `rest` are read; an incomplete one at the end never becomes whole.
      ended = true;
    },
    available() {
      advance();
      return frame < frames.length;
    },
    read() {
      advance();
      return frames[frame++];
    },
    durationMs,
    failure() {
      advance();
      return frame < frames.length ? null : failure;
    },
  };
}
