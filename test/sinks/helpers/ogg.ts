/**
 * An independent Ogg reader for the sink tests: parses pages, checks each page's CRC with
 * a bit-by-bit CRC-32 (not the table the writer uses), and reassembles packets across
 * pages.
 */

/** Bit-serial Ogg CRC-32: polynomial 0x04C11DB7, MSB first, init 0, no final XOR. */
export function referenceCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
    crc >>>= 0;
  }
  return crc;
}

export interface ParsedPage {
  offset: number;
  flags: number;
  granulePosition: bigint;
  serial: number;
  sequence: number;
  crc: number;
  /** CRC recomputed over the page with the CRC field zeroed. */
  computedCrc: number;
  lacing: number[];
  body: Buffer;
  length: number;
}

export function parseOggPages(file: Buffer): ParsedPage[] {
  const pages: ParsedPage[] = [];
  let offset = 0;
  while (offset < file.length) {
    if (file.toString('latin1', offset, offset + 4) !== 'OggS') throw new Error(`no capture pattern at ${offset}`);
    if (file[offset + 4] !== 0) throw new Error(`bad version at ${offset}`);
    const segments = file[offset + 26];
    const lacing = [...file.subarray(offset + 27, offset + 27 + segments)];
    const bodyLength = lacing.reduce((a, b) => a + b, 0);
    const length = 27 + segments + bodyLength;
    if (offset + length > file.length) throw new Error(`truncated page at ${offset}`);
    const page = Buffer.from(file.subarray(offset, offset + length));
    const crc = page.readUInt32LE(22);
    page.writeUInt32LE(0, 22);
    pages.push({
      offset,
      flags: page[5],
      granulePosition: page.readBigInt64LE(6),
      serial: page.readUInt32LE(14),
      sequence: page.readUInt32LE(18),
      crc,
      computedCrc: referenceCrc(page),
      lacing,
      body: page.subarray(27 + segments),
      length,
    });
    offset += length;
  }
  return pages;
}

/** Packets of the pages, joined across page boundaries; `pageIndex` is where each ends. */
export function oggPackets(pages: readonly ParsedPage[]): Array<{ data: Buffer; pageIndex: number }> {
  const out: Array<{ data: Buffer; pageIndex: number }> = [];
  let partial: Buffer[] = [];
  pages.forEach((page, pageIndex) => {
    if (!(page.flags & 0x01) && partial.length > 0) throw new Error(`page ${pageIndex} drops a continued packet`);
    if (page.flags & 0x01 && partial.length === 0) throw new Error(`page ${pageIndex} continues nothing`);
    let at = 0;
    for (const value of page.lacing) {
      partial.push(page.body.subarray(at, at + value));
      at += value;
      if (value < 255) {
        out.push({ data: Buffer.concat(partial), pageIndex });
        partial = [];
      }
    }
  });
  if (partial.length > 0) throw new Error('the last packet is unfinished');
  return out;
}
