import type { Framer } from './Framer';

const OGGS = 0x4f676753; // "OggS", big-endian
const HEADER_SIZE = 27;
const FLAG_CONTINUED = 0x01;
const OPUS_HEAD = Buffer.from('OpusHead', 'latin1');
const OPUS_TAGS = Buffer.from('OpusTags', 'latin1');
const EMPTY = Buffer.alloc(0);

/** What {@link oggOpusFramer} found so far. */
export interface OggOpusFramer extends Framer<Buffer> {
  /** Whether an OpusHead packet was seen (the stream holds Opus). */
  readonly sawHead: boolean;
  /** The OpusHead packet (RFC 7845 §5.1) once seen, else null. */
  readonly opusHead: Buffer | null;
}

/**
 * A {@link Framer} that demuxes the Opus packets of an Ogg byte stream (RFC 3533 pages,
 * RFC 7845 Ogg Opus) — what prism-media's `OggDemuxer` does, without a Transform stream in
 * between and lazily: a packet is cut from the page only when it is read, as a view of the
 * chunk it arrived in (no copy, except for a page split across chunks), so a source holds
 * its input chunk and a cursor rather than an object per packet.
 *
 * Same packets as prism's demuxer: the logical stream of the first OpusHead is kept;
 * OpusHead and OpusTags packets and other streams' packets are dropped; an incomplete page
 * at the end is dropped. Unlike it, packets that continue on the next page (e.g. a large
 * OpusTags) are joined, and the tail of a packet whose start was never seen is dropped. A
 * page that does not start with "OggS", or has a version other than 0, is a failure
 * ({@link Framer.failure}), reported once the packets before it were read.
 */
export function oggOpusFramer(durationMs: (packet: Buffer) => number): OggOpusFramer {
  let rest: Buffer = EMPTY; // unparsed bytes, from a page boundary on
  let page: Buffer | null = null; // the (complete) page being read
  let seg = 0; // next lacing value (offset in `page`)
  let segEnd = 0;
  let body = 0; // next packet's bytes (offset in `page`)
  let pageSerial = 0;
  let serial = -1; // logical stream of the OpusHead
  let head: Buffer | null = null;
  let partial: Buffer[] | null = null; // a packet that continues on the next page
  let dropTail = false; // the page continues a packet that was never seen
  let next: Buffer | null = null;
  let failure: Error | null = null;
  let ended = false;

  /** Takes the next complete page from `rest`; false when incomplete (or corrupt). */
  const nextPage = (): boolean => {
    if (rest.length < HEADER_SIZE) return false;
    if (rest.readUInt32BE(0) !== OGGS) {
      failure = new Error('capture_pattern is not OggS');
      rest = EMPTY;
      return false;
    }
    if (rest[4] !== 0) {
      failure = new Error('stream_structure_version is not 0');
      rest = EMPTY;
      return false;
    }
    const segments = rest[26];
    if (rest.length < HEADER_SIZE + segments) return false;
    let size = HEADER_SIZE + segments;
    for (let i = HEADER_SIZE; i < HEADER_SIZE + segments; i++) size += rest[i];
    if (rest.length < size) return false;
    page = rest.subarray(0, size);
    rest = rest.length === size ? EMPTY : rest.subarray(size);
    seg = HEADER_SIZE;
    segEnd = HEADER_SIZE + segments;
    body = segEnd;
    pageSerial = page.readUInt32LE(14);
    const continued = (page[5] & FLAG_CONTINUED) !== 0;
    if (!continued) partial = null; // a packet was left unfinished: drop it
    dropTail = continued && partial === null;
    return true;
  };

  /** Whether `packet` is an audio packet of the Opus stream (and notes the OpusHead). */
  const accept = (packet: Buffer): boolean => {
    if (serial < 0) {
      if (packet.length >= 8 && packet.subarray(0, 8).equals(OPUS_HEAD)) {
        serial = pageSerial;
        head = Buffer.from(packet);
      }
      return false;
    }
    if (packet.length >= 8 && packet[0] === 0x4f && packet.subarray(0, 8).equals(OPUS_TAGS)) return false;
    return pageSerial === serial;
  };

  /** Cuts packets until one is accepted or the data runs out. */
  const advance = (): void => {
    while (next === null && failure === null) {
      if (page === null || seg === segEnd) {
        page = null;
        if (!nextPage()) return;
        continue;
      }
      let size = 0;
      let lacing = 255;
      while (seg < segEnd) {
        lacing = page[seg++];
        size += lacing;
        if (lacing < 255) break;
      }
      const packet = page.subarray(body, body + size);
      body += size;
      if (lacing === 255) {
        // The packet continues on the next page: keep a copy of this piece.
        if (partial) partial.push(Buffer.from(packet));
        else if (!dropTail) partial = [Buffer.from(packet)];
        continue;
      }
      let whole = packet;
      if (partial) {
        partial.push(packet);
        whole = Buffer.concat(partial);
        partial = null;
      } else if (dropTail) {
        dropTail = false;
        continue;
      }
      if (accept(whole)) next = whole;
    }
  };

  return {
    get sawHead() {
      return serial >= 0;
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
      // Whole pages still in `rest` are read; an incomplete one at the end never becomes whole.
      ended = true;
    },
    available() {
      advance();
      return next !== null;
    },
    read() {
      advance();
      const packet = next as Buffer;
      next = null;
      return packet;
    },
    durationMs,
    failure() {
      advance();
      return next === null ? failure : null;
    },
  };
}
