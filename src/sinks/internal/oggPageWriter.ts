/**
 * A minimal Ogg page writer (RFC 3533) for one logical bitstream. Internal to the sinks.
 *
 * Page layout (RFC 3533 §6): `OggS`, version 0, header type flags, 64-bit granule
 * position (LE), 32-bit serial (LE), 32-bit page sequence number (LE), 32-bit CRC (LE),
 * segment count, the lacing values, then the packet bytes. A packet of `n` bytes is laced
 * as ⌊n / 255⌋ values of 255 followed by one value `n mod 255` (so 0 for a multiple of
 * 255); a page holds at most 255 lacing values, and a packet that does not fit continues
 * on the next page, which is then flagged "continued".
 */

/** Header type flag: the page starts with the continuation of the previous page's last packet. */
export const OGG_CONTINUED = 0x01;
/** Header type flag: first page of the logical bitstream. */
export const OGG_BOS = 0x02;
/** Header type flag: last page of the logical bitstream. */
export const OGG_EOS = 0x04;

/** Lacing values one page can hold. */
export const OGG_MAX_SEGMENTS = 255;

/** Bytes of a page header before its lacing values. */
const HEADER_BYTES = 27;

/** Byte offset of the CRC field in a page. */
const CRC_OFFSET = 22;

/**
 * Table of the Ogg CRC-32: polynomial 0x04C11DB7, MSB first (no bit reflection),
 * initial value 0, no final XOR (RFC 3533 §6, "CRC checksum").
 */
const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let bit = 0; bit < 8; bit++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

/**
 * The Ogg CRC-32 of `bytes` (polynomial 0x04C11DB7, no reflection, initial value 0, no
 * final XOR). Pass a previous result as `crc` to continue over several buffers. A page's
 * checksum is this over the whole page with its CRC field set to zero.
 *
 * @returns an unsigned 32-bit integer. The CRC of ASCII `123456789` is 0x89A1897F.
 */
export function oggCrc32(bytes: Uint8Array, crc = 0): number {
  let c = crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = ((c << 8) ^ CRC_TABLE[(c >>> 24) ^ bytes[i]]) >>> 0;
  return c;
}

/** The header fields of one page. */
export interface OggPageHeader {
  /** Sum of {@link OGG_CONTINUED}, {@link OGG_BOS}, {@link OGG_EOS}. */
  flags: number;
  /** Codec-defined position at the end of the last packet that completes on the page; -1 when none does. */
  granulePosition: number;
  /** Stream serial number, unsigned 32-bit. */
  serial: number;
  /** Page sequence number, unsigned 32-bit, counting from 0. */
  sequence: number;
}

/**
 * Encodes one Ogg page with its CRC.
 *
 * @param header flags, granule position (an integer; -1 for "no packet ends here"),
 *   serial and sequence number.
 * @param lacing the page's lacing values (0…255 entries of 0…255).
 * @param body the packet bytes the lacing values describe, in order (their total length
 *   must equal the sum of `lacing`).
 * @returns the page, `27 + lacing.length + Σ lacing` bytes.
 */
export function encodeOggPage(header: OggPageHeader, lacing: readonly number[], body: readonly Uint8Array[]): Buffer {
  if (lacing.length > OGG_MAX_SEGMENTS) throw new RangeError(`an Ogg page holds at most 255 segments, got ${lacing.length}`);
  let bodyBytes = 0;
  for (const part of body) bodyBytes += part.length;
  let laced = 0;
  for (const v of lacing) laced += v;
  if (laced !== bodyBytes) throw new RangeError(`lacing values describe ${laced} bytes but the body has ${bodyBytes}`);
  const page = Buffer.alloc(HEADER_BYTES + lacing.length + bodyBytes);
  page.write('OggS', 0, 'latin1');
  page[4] = 0; // stream_structure_version
  page[5] = header.flags;
  page.writeBigInt64LE(BigInt(header.granulePosition), 6);
  page.writeUInt32LE(header.serial >>> 0, 14);
  page.writeUInt32LE(header.sequence >>> 0, 18);
  // CRC field (22..25) stays zero while the checksum is computed.
  page[26] = lacing.length;
  for (let i = 0; i < lacing.length; i++) page[HEADER_BYTES + i] = lacing[i];
  let at = HEADER_BYTES + lacing.length;
  for (const part of body) {
    page.set(part, at);
    at += part.length;
  }
  page.writeUInt32LE(oggCrc32(page), CRC_OFFSET);
  return page;
}

/** Lacing values a packet of `length` bytes needs. */
export function oggSegmentCount(length: number): number {
  return Math.floor(length / 255) + 1;
}

/**
 * Packs packets of one logical bitstream into pages. Packets are added with the granule
 * position at their end; a page is produced when its segment table is full (the packet
 * then continues on the next page) or when {@link OggPageWriter.flush} is called. The
 * first page produced is flagged BOS; pass `eos` to the last flush. Sequence numbers
 * count from 0.
 */
export class OggPageWriter {
  private sequence = 0;
  private lacing: number[] = [];
  private body: Uint8Array[] = [];
  private granule = -1;
  private lastGranule = 0;
  private continued = false;
  private ended = false;

  /** @param serial the stream serial number (unsigned 32-bit). */
  constructor(readonly serial: number) {}

  /** Lacing values waiting for the next page. */
  get pendingSegments(): number {
    return this.lacing.length;
  }

  /** Pages produced so far. */
  get pages(): number {
    return this.sequence;
  }

  /**
   * Adds a packet. Returns the pages completed on the way (none unless the segment table
   * filled up; a page is produced only once more segments must be added after a full one).
   *
   * @param packet the packet's bytes (kept by reference until its page is produced).
   * @param granulePosition the codec's position at the end of this packet.
   */
  write(packet: Uint8Array, granulePosition: number): Buffer[] {
    if (this.ended) throw new Error('OggPageWriter: write after the EOS page');
    const pages: Buffer[] = [];
    let offset = 0;
    for (;;) {
      if (this.lacing.length === OGG_MAX_SEGMENTS) pages.push(this.emit(0));
      const value = Math.min(255, packet.length - offset);
      this.lacing.push(value);
      if (value > 0) this.body.push(packet.subarray(offset, offset + value));
      offset += value;
      if (value < 255) break;
    }
    this.granule = granulePosition;
    return pages;
  }

  /**
   * Produces the pending page. With nothing pending it produces nothing, unless `eos` is
   * set and the EOS page has not been written, in which case it produces an empty EOS
   * page carrying the last granule position.
   */
  flush(eos = false): Buffer | null {
    if (this.ended) return null;
    if (this.lacing.length === 0 && !eos) return null;
    if (this.lacing.length === 0) this.granule = this.lastGranule;
    return this.emit(eos ? OGG_EOS : 0);
  }

  private emit(extraFlags: number): Buffer {
    let flags = extraFlags;
    if (this.sequence === 0) flags |= OGG_BOS;
    if (this.continued) flags |= OGG_CONTINUED;
    const page = encodeOggPage(
      { flags, granulePosition: this.granule, serial: this.serial, sequence: this.sequence },
      this.lacing,
      this.body,
    );
    this.sequence++;
    this.continued = this.lacing.length > 0 && this.lacing[this.lacing.length - 1] === 255;
    if (this.granule !== -1) this.lastGranule = this.granule;
    this.lacing = [];
    this.body = [];
    this.granule = -1;
    if (extraFlags & OGG_EOS) this.ended = true;
    return page;
  }
}
