import { readFileSync } from 'node:fs';
import {
  encodeOggPage,
  OGG_BOS,
  OGG_CONTINUED,
  OGG_EOS,
  oggCrc32,
  OggPageWriter,
  oggSegmentCount,
} from '../../src/sinks/internal/oggPageWriter';
import { oggPackets, parseOggPages, referenceCrc } from './helpers/ogg';
import { runFfmpeg, tempDir } from './helpers/sources';

const tmp = tempDir();
afterAll(() => tmp.remove());

describe('oggCrc32', () => {
  test('matches the CRC-32/OGG check value', () => {
    // Polynomial 0x04C11DB7, init 0, no reflection, no final XOR: the check value of
    // "123456789" is 0x89A1897F (= CRC-32/CKSUM's 0x765E7680 without its final XOR).
    expect(oggCrc32(Buffer.from('123456789', 'latin1'))).toBe(0x89a1897f);
    expect(referenceCrc(Buffer.from('123456789', 'latin1'))).toBe(0x89a1897f);
    expect(oggCrc32(Buffer.alloc(0))).toBe(0);
  });

  test('continues across buffers', () => {
    const bytes = Buffer.from('The quick brown fox jumps over the lazy dog');
    expect(oggCrc32(bytes.subarray(10), oggCrc32(bytes.subarray(0, 10)))).toBe(oggCrc32(bytes));
  });

  test('matches the bit-serial definition on random data', () => {
    for (let n = 0; n < 50; n++) {
      const bytes = Buffer.from(Array.from({ length: n * 7 }, (_, i) => (i * 131 + n * 17) & 0xff));
      expect(oggCrc32(bytes)).toBe(referenceCrc(bytes));
    }
  });

  test("reproduces the CRC of every page ffmpeg's Ogg muxer writes", async () => {
    const path = tmp.file('ffmpeg.opus');
    const { code, stderr } = await runFfmpeg(['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=2', '-c:a', 'libopus', '-y', path]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const file = readFileSync(path);
    const pages = parseOggPages(file);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    for (const page of pages) {
      const zeroed = Buffer.from(file.subarray(page.offset, page.offset + page.length));
      zeroed.writeUInt32LE(0, 22);
      expect(oggCrc32(zeroed)).toBe(page.crc);
    }
  });
});

describe('encodeOggPage', () => {
  test('lays out the header, lacing and body, with the CRC over the zeroed page', () => {
    const body = Buffer.from('hello');
    const page = encodeOggPage({ flags: OGG_BOS, granulePosition: 0x1_2345_6789, serial: 0xdeadbeef, sequence: 7 }, [5], [body]);
    expect(page.length).toBe(27 + 1 + 5);
    expect(page.toString('latin1', 0, 4)).toBe('OggS');
    expect(page[4]).toBe(0);
    expect(page[5]).toBe(OGG_BOS);
    expect(page.readBigInt64LE(6)).toBe(0x1_2345_6789n);
    expect(page.readUInt32LE(14)).toBe(0xdeadbeef);
    expect(page.readUInt32LE(18)).toBe(7);
    expect(page[26]).toBe(1);
    expect(page[27]).toBe(5);
    expect(page.subarray(28).toString()).toBe('hello');
    const [parsed] = parseOggPages(page);
    expect(parsed.crc).toBe(parsed.computedCrc);
  });

  test('writes granule position -1 as all ones', () => {
    const page = encodeOggPage({ flags: 0, granulePosition: -1, serial: 1, sequence: 1 }, [], []);
    expect(page.subarray(6, 14)).toEqual(Buffer.alloc(8, 0xff));
    expect(page.length).toBe(27);
  });

  test('rejects inconsistent lacing', () => {
    expect(() => encodeOggPage({ flags: 0, granulePosition: 0, serial: 1, sequence: 0 }, [4], [Buffer.alloc(5)])).toThrow(RangeError);
    expect(() => encodeOggPage({ flags: 0, granulePosition: 0, serial: 1, sequence: 0 }, new Array<number>(256).fill(0), [])).toThrow(RangeError);
  });
});

describe('OggPageWriter', () => {
  test.each([
    [0, [0]],
    [1, [1]],
    [254, [254]],
    [255, [255, 0]],
    [256, [255, 1]],
    [510, [255, 255, 0]],
    [600, [255, 255, 90]],
  ])('laces a %i-byte packet as %j', (length, lacing) => {
    expect(oggSegmentCount(length)).toBe(lacing.length);
    const writer = new OggPageWriter(42);
    expect(writer.write(Buffer.alloc(length, 7), 960)).toEqual([]);
    const page = writer.flush(true);
    if (!page) throw new Error('no page');
    const [parsed] = parseOggPages(page);
    expect(parsed.lacing).toEqual(lacing);
    expect(parsed.flags).toBe(OGG_BOS | OGG_EOS);
    expect(parsed.granulePosition).toBe(960n);
    expect(parsed.crc).toBe(parsed.computedCrc);
  });

  test('numbers pages, flags BOS and EOS once, keeps the serial, and carries the last granule', () => {
    const writer = new OggPageWriter(0xfeedf00d);
    const pages: Buffer[] = [];
    writer.write(Buffer.from('head'), 0);
    pages.push(writer.flush()!);
    expect(writer.flush()).toBeNull(); // nothing pending
    writer.write(Buffer.from('a'), 960);
    writer.write(Buffer.from('bb'), 1920);
    pages.push(writer.flush()!);
    writer.write(Buffer.from('ccc'), 2880);
    pages.push(writer.flush(true)!);
    expect(writer.flush(true)).toBeNull(); // EOS written
    expect(() => writer.write(Buffer.from('d'), 3840)).toThrow();
    const parsed = parseOggPages(Buffer.concat(pages));
    expect(parsed.map((p) => [p.sequence, p.flags, p.granulePosition, p.serial])).toEqual([
      [0, OGG_BOS, 0n, 0xfeedf00d],
      [1, 0, 1920n, 0xfeedf00d],
      [2, OGG_EOS, 2880n, 0xfeedf00d],
    ]);
    expect(oggPackets(parsed).map((p) => p.data.toString())).toEqual(['head', 'a', 'bb', 'ccc']);
    expect(writer.pages).toBe(3);
  });

  test('starts a new page when the segment table is full', () => {
    const writer = new OggPageWriter(1);
    const out: Buffer[] = [];
    for (let i = 0; i < 300; i++) out.push(...writer.write(Buffer.from([i & 0xff]), (i + 1) * 960));
    expect(out).toHaveLength(1); // the first page filled at 255 packets
    expect(writer.pendingSegments).toBe(45);
    out.push(writer.flush(true)!);
    const parsed = parseOggPages(Buffer.concat(out));
    expect(parsed.map((p) => [p.lacing.length, p.flags, p.granulePosition])).toEqual([
      [255, OGG_BOS, 255n * 960n],
      [45, OGG_EOS, 300n * 960n],
    ]);
    expect(oggPackets(parsed).map((p) => p.data[0])).toEqual(Array.from({ length: 300 }, (_, i) => i & 0xff));
  });

  test('continues a packet larger than a page, with granule -1 where no packet ends', () => {
    const writer = new OggPageWriter(1);
    const big = Buffer.from(Array.from({ length: 255 * 300 }, (_, i) => i % 251));
    const out = [...writer.write(Buffer.from('x'), 100), ...writer.write(big, 200), ...writer.write(Buffer.from('y'), 300)];
    out.push(writer.flush(true)!);
    const parsed = parseOggPages(Buffer.concat(out));
    // 1 + 301 + 1 segments: page 0 holds "x" and the first 254 segments of big (the last
    // packet ending on it is "x": granule 100); page 1 the other 47 and "y".
    expect(parsed.map((p) => [p.lacing.length, p.flags, p.granulePosition])).toEqual([
      [255, OGG_BOS, 100n],
      [48, OGG_CONTINUED | OGG_EOS, 300n],
    ]);
    const packets = oggPackets(parsed);
    expect(packets.map((p) => p.data.length)).toEqual([1, big.length, 1]);
    expect(packets[1].data.equals(big)).toBe(true);

    // A page with only the middle of a packet has granule position -1.
    const w2 = new OggPageWriter(2);
    const huge = Buffer.alloc(255 * 600, 1);
    const pages2 = [...w2.write(huge, 5000)];
    pages2.push(w2.flush(true)!);
    const parsed2 = parseOggPages(Buffer.concat(pages2));
    expect(parsed2.map((p) => [p.lacing.length, p.flags, p.granulePosition])).toEqual([
      [255, OGG_BOS, -1n],
      [255, OGG_CONTINUED, -1n],
      [91, OGG_CONTINUED | OGG_EOS, 5000n],
    ]);
    expect(oggPackets(parsed2)[0].data.equals(huge)).toBe(true);
  });

  test('a packet ending exactly at a full page does not flag the next page continued', () => {
    const writer = new OggPageWriter(3);
    const out = [...writer.write(Buffer.alloc(254 * 255 + 10), 1), ...writer.write(Buffer.from('z'), 2)];
    out.push(writer.flush(true)!);
    const parsed = parseOggPages(Buffer.concat(out));
    expect(parsed.map((p) => [p.lacing.length, p.flags])).toEqual([
      [255, OGG_BOS],
      [1, OGG_EOS],
    ]);
  });

  test('an EOS flush with nothing pending writes an empty EOS page', () => {
    const writer = new OggPageWriter(4);
    writer.write(Buffer.from('a'), 960);
    const first = writer.flush()!;
    const last = writer.flush(true)!;
    const parsed = parseOggPages(Buffer.concat([first, last]));
    expect(parsed[1]).toMatchObject({ sequence: 1, flags: OGG_EOS, granulePosition: 960n, lacing: [] });
    expect(parsed[1].crc).toBe(parsed[1].computedCrc);
  });
});
