/**
 * The WebM/Matroska Opus demuxer (`webmOpusFramer`, behind `webmOpusSource`): hand-built
 * files with every block layout (SimpleBlock, BlockGroup, lacing, unknown sizes, other
 * tracks), real Opus packets from an ffmpeg-made Ogg file, malformed input, and fast-check
 * fuzzing (random bytes, mutated valid files, random chunking): the framer either yields
 * packets or reports a WebmParseError; the source either completes or errors with an
 * AudioSourceError — nothing else ever escapes.
 */
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { AudioSourceError, oggOpusSource, webmOpusSource } from '../../src/sources';
import { blockFrames, readVint, WebmParseError, webmOpusFramer } from '../../src/sources/internal/webmOpusFramer';
import { collect, makeFixtures, type Fixtures } from './helpers';

// ---- A minimal EBML writer -------------------------------------------------------------

const UNKNOWN = -1;

/** An element ID (with its marker bits) as bytes. */
function idBytes(id: number): Buffer {
  const length = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const out = Buffer.alloc(length);
  out.writeUIntBE(id, 0, length);
  return out;
}

/** An EBML size: minimal length (or `length` bytes), or the 8-byte "unknown" size. */
function sizeBytes(size: number, length?: number): Buffer {
  if (size === UNKNOWN) return Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  let n = length ?? 1;
  while (length === undefined && size >= 2 ** (7 * n) - 1) n++;
  const out = Buffer.alloc(n);
  let v = size;
  for (let i = n - 1; i >= 0; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  out[0] |= 0x80 >> (n - 1);
  return out;
}

function el(id: number, ...body: (Buffer | string)[]): Buffer {
  const data = Buffer.concat(body.map((b) => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b)));
  return Buffer.concat([idBytes(id), sizeBytes(data.length), data]);
}

function elUnknown(id: number, ...body: Buffer[]): Buffer {
  return Buffer.concat([idBytes(id), sizeBytes(UNKNOWN), ...body]);
}

/** A big-endian unsigned integer in the fewest bytes. */
function uint(n: number): Buffer {
  const bytes: number[] = [];
  do {
    bytes.unshift(n & 0xff);
    n >>>= 8;
  } while (n > 0);
  return Buffer.from(bytes);
}

const OPUS_HEAD = Buffer.concat([Buffer.from('OpusHead'), Buffer.from([1, 2, 0x38, 0x01, 0x80, 0xbb, 0, 0, 0, 0, 0])]);

function ebmlHeader(): Buffer {
  return el(0x1a45dfa3, el(0x4286, uint(1)), el(0x4282, 'webm'), el(0x4287, uint(4)));
}

function trackEntry(number: number, type: number, codec: string, priv?: Buffer): Buffer {
  return el(0xae, el(0xd7, uint(number)), el(0x73c5, uint(number + 100)), el(0x83, uint(type)), el(0x86, codec), ...(priv ? [el(0x63a2, priv)] : []));
}

/** Block header: track number vint, int16 timestamp, flags. */
function blockBody(track: number, flags: number, ...payload: Buffer[]): Buffer {
  return Buffer.concat([sizeBytes(track), Buffer.from([0, 0, flags]), ...payload]);
}

const simpleBlock = (track: number, packet: Buffer): Buffer => el(0xa3, blockBody(track, 0x80, packet));
const blockGroup = (track: number, packet: Buffer): Buffer =>
  el(0xa0, el(0xa1, blockBody(track, 0x00, packet)), el(0x9b, uint(20)), el(0x75a2, uint(0)));

function xiphLaced(track: number, packets: Buffer[]): Buffer {
  const sizes: number[] = [];
  for (const p of packets.slice(0, -1)) {
    let n = p.length;
    while (n >= 255) {
      sizes.push(255);
      n -= 255;
    }
    sizes.push(n);
  }
  return el(0xa3, blockBody(track, 0x82, Buffer.from([packets.length - 1, ...sizes]), ...packets));
}

function ebmlLaced(track: number, packets: Buffer[]): Buffer {
  const sizes: Buffer[] = [sizeBytes(packets[0].length, 2)];
  for (let i = 1; i < packets.length - 1; i++) {
    const diff = packets[i].length - packets[i - 1].length;
    sizes.push(sizeBytes(diff + (2 ** 13 - 1), 2)); // 2-byte signed vint
  }
  return el(0xa3, blockBody(track, 0x86, Buffer.from([packets.length - 1]), ...sizes, ...packets));
}

function fixedLaced(track: number, packets: Buffer[]): Buffer {
  return el(0xa3, blockBody(track, 0x84, Buffer.from([packets.length - 1]), ...packets));
}

interface WebmOptions {
  /** Blocks of each cluster. */
  clusters: Buffer[][];
  tracks?: Buffer[];
  unknownSizes?: boolean;
}

function webm({ clusters, tracks = [trackEntry(1, 2, 'A_OPUS', OPUS_HEAD)], unknownSizes = false }: WebmOptions): Buffer {
  const info = el(0x1549a966, el(0x2ad7b1, Buffer.from([0x0f, 0x42, 0x40])), el(0x4d80, 'test'));
  const seekHead = el(0x114d9b74, el(0x4dbb, el(0x53ab, idBytes(0x1654ae6b)), el(0x53ac, uint(0))));
  const body = [
    seekHead,
    el(0xec, Buffer.alloc(40)), // Void
    info,
    el(0x1654ae6b, ...tracks),
    ...clusters.map((blocks, i) => {
      const children = [el(0xe7, uint(i)), ...blocks];
      return unknownSizes ? elUnknown(0x1f43b675, ...children) : el(0x1f43b675, ...children);
    }),
    el(0x1c53bb6b, el(0xbb, el(0xb3, uint(0)))), // Cues
  ];
  return Buffer.concat([ebmlHeader(), unknownSizes ? elUnknown(0x18538067, ...body) : el(0x18538067, ...body)]);
}

/** Packets of distinct lengths and contents (the framer does not look inside them). */
function fakePackets(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.alloc(3 + ((i * 37) % 300), (i * 7 + 1) & 0xff));
}

// ---- Driving the framer --------------------------------------------------------------------

interface Demuxed {
  packets: Buffer[];
  failure: unknown;
  sawHead: boolean;
}

/** Feeds `chunks` to a fresh framer the way gatedStream does; returns what came out. */
function demux(chunks: readonly Buffer[]): Demuxed {
  const framer = webmOpusFramer(() => 20);
  const packets: Buffer[] = [];
  const drain = (): void => {
    while (framer.available()) packets.push(Buffer.from(framer.read()));
  };
  for (const chunk of chunks) {
    framer.write(chunk);
    drain();
  }
  framer.end();
  drain();
  return { packets, failure: framer.failure?.() ?? null, sawHead: framer.sawHead };
}

/** `bytes` cut at the given offsets. */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Same packets (bytes) and same failure message (jest's deep equality is slow on Buffers). */
function sameOutcome(a: Demuxed, b: Demuxed): boolean {
  return (
    a.packets.length === b.packets.length &&
    a.packets.every((p, i) => p.equals(b.packets[i])) &&
    String(a.failure) === String(b.failure) &&
    a.sawHead === b.sawHead
  );
}

const everyByte = (bytes: Buffer): Buffer[] => Array.from(bytes, (b) => Buffer.from([b]));

// ---- Layouts --------------------------------------------------------------------------------

describe('webmOpusFramer layouts', () => {
  const packets = fakePackets(12);

  test.each([
    ['SimpleBlocks', packets.map((p) => simpleBlock(1, p))],
    ['BlockGroups for every packet', packets.map((p) => blockGroup(1, p))],
    ['SimpleBlocks and BlockGroups mixed', packets.map((p, i) => (i % 3 === 0 ? blockGroup(1, p) : simpleBlock(1, p)))],
    ['Xiph lacing', [xiphLaced(1, packets.slice(0, 5)), xiphLaced(1, packets.slice(5, 6)), xiphLaced(1, packets.slice(6))]],
    ['EBML lacing', [ebmlLaced(1, packets.slice(0, 4)), ebmlLaced(1, packets.slice(4, 6)), ebmlLaced(1, packets.slice(6))]],
  ])('%s: every packet, in order, whole or byte by byte', (_name, blocks) => {
    for (const unknownSizes of [false, true]) {
      const file = webm({ clusters: [blocks.slice(0, 4), blocks.slice(4)], unknownSizes });
      for (const chunks of [[file], everyByte(file), split(file, [7, 50, 51, 200, 333])]) {
        const out = demux(chunks);
        expect(out.failure).toBeNull();
        expect(out.sawHead).toBe(true);
        expect(out.packets).toEqual(packets);
      }
    }
  });

  test('fixed-size lacing splits evenly', () => {
    const same = Array.from({ length: 6 }, (_, i) => Buffer.alloc(40, i));
    const out = demux([webm({ clusters: [[fixedLaced(1, same.slice(0, 3)), fixedLaced(1, same.slice(3))]] })]);
    expect(out.failure).toBeNull();
    expect(out.packets).toEqual(same);
  });

  test('only the first Opus track: a video track and a second Opus track are skipped', () => {
    const tracks = [trackEntry(1, 1, 'V_VP9'), trackEntry(2, 2, 'A_VORBIS'), trackEntry(300, 2, 'A_OPUS', OPUS_HEAD), trackEntry(4, 2, 'A_OPUS', OPUS_HEAD)];
    const other = Buffer.from('not ours');
    const blocks = packets.flatMap((p) => [simpleBlock(1, other), blockGroup(300, p), simpleBlock(4, other), blockGroup(2, other)]);
    const framer = webmOpusFramer(() => 20);
    framer.write(webm({ clusters: [blocks], tracks }));
    framer.end();
    const out: Buffer[] = [];
    while (framer.available()) out.push(framer.read());
    expect(framer.failure?.()).toBeNull();
    expect(out).toEqual(packets);
    expect(framer.opusHead).toEqual(OPUS_HEAD);
  });

  test('a truncated file ends with the whole blocks it had', () => {
    const file = webm({ clusters: [packets.map((p) => blockGroup(1, p))] });
    const full = demux([file]).packets;
    for (let cut = 0; cut < file.length; cut += 17) {
      const out = demux([file.subarray(0, cut)]);
      expect(out.failure).toBeNull();
      expect(full.slice(0, out.packets.length)).toEqual(out.packets);
    }
  });

  test('vints: lengths 1–8, the marker kept for IDs, unknown sizes', () => {
    expect(readVint(Buffer.from([0x81]), 0, 8, false)).toEqual({ value: 1, length: 1, unknown: false });
    expect(readVint(Buffer.from([0x40, 0x02]), 0, 8, false)).toEqual({ value: 2, length: 2, unknown: false });
    expect(readVint(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), 0, 4, true)?.value).toBe(0x1a45dfa3);
    expect(readVint(Buffer.from([0xff]), 0, 8, false)?.unknown).toBe(true);
    expect(readVint(sizeBytes(UNKNOWN), 0, 8, false)?.unknown).toBe(true);
    expect(readVint(sizeBytes(123456789), 0, 8, false)?.value).toBe(123456789);
    expect(readVint(Buffer.from([0x40]), 0, 8, false)).toBeNull(); // needs a second byte
    expect(() => readVint(Buffer.from([0x00, 1, 2, 3, 4, 5, 6, 7, 8]), 0, 8, false)).toThrow(WebmParseError);
    expect(() => readVint(Buffer.from([0x08, 1, 2, 3, 4]), 0, 4, true)).toThrow(WebmParseError);
  });
});

// ---- Malformed input ------------------------------------------------------------------------

describe('webmOpusFramer malformed input → WebmParseError after the packets before it', () => {
  const packets = fakePackets(4);
  const good = packets.map((p) => simpleBlock(1, p));

  test.each([
    ['not EBML', () => Buffer.from('OggS and more bytes that are not WebM at all'), 0, /EBML header/],
    ['no Opus track', () => webm({ clusters: [good], tracks: [trackEntry(1, 2, 'A_VORBIS')] }), 0, /no Opus track \(codecs: A_VORBIS\)/],
    ['Xiph lacing past the block', () => webm({ clusters: [[...good, el(0xa3, blockBody(1, 0x82, Buffer.from([2, 255, 255])))]] }), 4, /Xiph/],
    ['EBML lacing past the block', () => webm({ clusters: [[...good, el(0xa3, blockBody(1, 0x86, Buffer.from([1, 0x40])))]] }), 4, /EBML lacing/],
    ['negative EBML-laced size', () => webm({ clusters: [[...good, el(0xa3, blockBody(1, 0x86, Buffer.from([2, 0x81, 0xa0]), Buffer.alloc(9)))]] }), 4, /negative/],
    ['laced frames past the block', () => webm({ clusters: [[...good, el(0xa3, blockBody(1, 0x82, Buffer.from([1, 200]), Buffer.alloc(10)))]] }), 4, /past the block/],
    ['uneven fixed lacing', () => webm({ clusters: [[...good, el(0xa3, blockBody(1, 0x84, Buffer.from([2]), Buffer.alloc(10)))]] }), 4, /fixed-size/],
    ['a block shorter than its header', () => webm({ clusters: [[...good, el(0xa3, Buffer.from([0x81, 0]))]] }), 4, /shorter than its header/],
    ['a BlockGroup child overrunning it', () => webm({ clusters: [[...good, el(0xa0, Buffer.from([0xa1, 0x90, 1, 2]))]] }), 4, /overruns/],
    ['an invalid element ID', () => webm({ clusters: [[...good, Buffer.from([0x00, 0x81, 0])]] }), 4, /element ID/],
    ['a huge element', () => Buffer.concat([webm({ clusters: [good] }), Buffer.from([0xa3, 0x08, 0xff, 0, 0, 0, 0])]), 4, /too large/],
    ['an unknown-size block', () => Buffer.concat([webm({ clusters: [good] }), Buffer.from([0xa3, 0xff])]), 4, /unknown size/],
  ])('%s', (_name, make, before, message) => {
    for (const chunks of [[make()], everyByte(make())]) {
      const out = demux(chunks);
      expect(out.packets).toEqual(packets.slice(0, before));
      expect(out.failure).toBeInstanceOf(WebmParseError);
      expect((out.failure as Error).message).toMatch(message);
    }
  });

  test('blockFrames of another track is empty; a non-Buffer chunk throws a TypeError', () => {
    expect(blockFrames(blockBody(2, 0x80, Buffer.from([1, 2])), 1)).toEqual([]);
    expect(() => webmOpusFramer(() => 20).write('text')).toThrow(TypeError);
  });
});

// ---- Fuzzing --------------------------------------------------------------------------------

fc.configureGlobal({ ...fc.readConfigureGlobal(), baseSize: 'medium' });

const validFile = (): fc.Arbitrary<Buffer> =>
  fc
    .record({
      sizes: fc.array(fc.integer({ min: 1, max: 600 }), { minLength: 1, maxLength: 12 }),
      layout: fc.constantFrom('simple', 'group', 'xiph', 'ebml', 'mixed'),
      unknownSizes: fc.boolean(),
    })
    .map(({ sizes, layout, unknownSizes }) => {
      const packets = sizes.map((n, i) => Buffer.alloc(n, i));
      const blocks =
        layout === 'xiph'
          ? [xiphLaced(1, packets)]
          : layout === 'ebml'
            ? [ebmlLaced(1, packets)]
            : packets.map((p, i) => (layout === 'group' || (layout === 'mixed' && i % 2 === 1) ? blockGroup(1, p) : simpleBlock(1, p)));
      return webm({ clusters: [blocks], unknownSizes });
    });

/** A valid file with a few bytes overwritten, inserted or cut. */
const mutatedFile = (): fc.Arbitrary<Buffer> =>
  fc
    .tuple(
      validFile(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 6 }),
    )
    .map(([file, edits]) => {
      let bytes = Buffer.from(file);
      for (const [pos, value, kind] of edits) {
        const at = pos % (bytes.length + 1);
        if (kind === 'set' && at < bytes.length) bytes[at] = value;
        else if (kind === 'insert') bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from([value]), bytes.subarray(at)]);
        else bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
      }
      return bytes;
    });

const cuts = fc.array(fc.nat(), { maxLength: 8 });

describe('webmOpusFramer fuzzing', () => {
  test('any chunking of a valid file gives the same packets as one chunk', () => {
    fc.assert(
      fc.property(validFile(), cuts, (file, at) => {
        const whole = demux([file]);
        return whole.failure === null && whole.packets.length > 0 && sameOutcome(demux(split(file, at)), whole);
      }),
      { numRuns: 500 },
    );
  });

  test('random bytes and mutated files: packets or a WebmParseError, never another exception', () => {
    const check = (bytes: Buffer, at: number[]): boolean => {
      const out = demux(split(bytes, at)); // throws (failing the property) on anything unexpected
      // A WebmParseError or nothing, and chunking never changes the outcome.
      return (out.failure === null || out.failure instanceof WebmParseError) && sameOutcome(out, demux([bytes]));
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }).map(Buffer.from), cuts, check), { numRuns: 1000 });
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 500 }).map((b) => Buffer.concat([ebmlHeader(), Buffer.from(b)])),
        cuts,
        check,
      ),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(mutatedFile(), cuts, check), { numRuns: 2000 });
  });

  test('webmOpusSource on mutated files: completes or errors with AudioSourceError', async () => {
    await fc.assert(
      fc.asyncProperty(mutatedFile(), cuts, async (bytes, at) => {
        const { completed, error } = await collect(webmOpusSource(Readable.from(split(bytes, at))));
        if (!completed) {
          expect(error).toBeInstanceOf(AudioSourceError);
          expect(['SOURCE_CORRUPT', 'SOURCE_FAILED']).toContain((error as AudioSourceError).code);
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---- Real Opus packets (ffmpeg-made Ogg) ----------------------------------------------------

describe('webmOpusSource with the packets of an ffmpeg-made Ogg file', () => {
  let fx: Fixtures;
  let oggPackets: Buffer[];

  beforeAll(async () => {
    fx = makeFixtures(['tone.ogg', 'copy.webm']);
    const ogg = await collect(oggOpusSource(fx.path('tone.ogg')));
    expect(ogg.completed).toBe(true);
    oggPackets = ogg.values;
  });
  afterAll(() => fx.remove());

  test('the -c:a copy WebM remux (by this ffmpeg) yields every packet of the Ogg file, byte-identical', async () => {
    const webmOut = await collect(webmOpusSource(fx.path('copy.webm')));
    expect(webmOut.completed).toBe(true);
    expect(webmOut.values.length).toBe(oggPackets.length);
    expect(webmOut.values.every((p, i) => p.equals(oggPackets[i]))).toBe(true);
  });

  test.each([
    ['every packet in a BlockGroup', (ps: Buffer[]) => ps.map((p) => blockGroup(1, p))],
    ['Xiph-laced blocks of 5', (ps: Buffer[]) => chunksOf(ps, 5).map((g) => xiphLaced(1, g))],
    ['EBML-laced blocks of 3', (ps: Buffer[]) => chunksOf(ps, 3).map((g) => ebmlLaced(1, g))],
  ])('a hand-built WebM with %s demuxes fully (unknown-size segment and clusters)', async (_name, blocksOf) => {
    const blocks = blocksOf(oggPackets);
    const file = webm({ clusters: chunksOf(blocks, 10), unknownSizes: true });
    const { values, completed } = await collect(webmOpusSource(Readable.from(split(file, [100, 1000, 1001, 5000]))));
    expect(completed).toBe(true);
    expect(values).toEqual(oggPackets);
  });
});

function chunksOf<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
