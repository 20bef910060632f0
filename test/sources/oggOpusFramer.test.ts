import { readFileSync } from 'node:fs';
import { opus } from 'prism-media';
import { encodeOggPage, OGG_BOS, OGG_CONTINUED, OggPageWriter } from '../../src/sinks/internal/oggPageWriter';
import { oggOpusFramer } from '../../src/sources/internal/oggOpusFramer';
import { makeFixtures, pseudoRandomBytes, type Fixtures } from './helpers';

let fx: Fixtures;

beforeAll(() => {
  fx = makeFixtures(['tone.ogg', 'twotone.ogg', 'mono.ogg']);
});
afterAll(() => fx.remove());

/** Feeds `chunks` to a framer and reads everything out. */
function demux(chunks: Buffer[]): { packets: Buffer[]; sawHead: boolean; failure: unknown } {
  const f = oggOpusFramer(() => 20);
  const packets: Buffer[] = [];
  for (const c of chunks) {
    f.write(c);
    while (f.available()) packets.push(Buffer.from(f.read()));
  }
  f.end();
  while (f.available()) packets.push(Buffer.from(f.read()));
  return { packets, sawHead: f.sawHead, failure: f.failure?.() ?? null };
}

function prismPackets(bytes: Buffer): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const d = new opus.OggDemuxer();
    d.on('data', (p: Buffer) => out.push(Buffer.from(p)));
    d.on('end', () => resolve(out));
    d.on('error', reject);
    d.end(bytes);
  });
}

/** Splits `bytes` into chunks of pseudo-random sizes 1‥max. */
function chop(bytes: Buffer, max: number, seed: number): Buffer[] {
  const sizes = pseudoRandomBytes(bytes.length, seed);
  const out: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = 1 + (sizes[i] % max);
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** An Ogg Opus stream made with rxvoice's page writer: OpusHead, OpusTags (any size), packets. */
function oggStream(packets: Buffer[], tagsBytes = 16, serial = 7): Buffer {
  const w = new OggPageWriter(serial);
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = 2;
  const tags = Buffer.alloc(Math.max(16, tagsBytes));
  tags.write('OpusTags', 0, 'latin1');
  const pages: Buffer[] = [];
  const add = (p: Buffer, granule: number): void => void pages.push(...w.write(p, granule));
  add(head, 0);
  pages.push(w.flush()!);
  add(tags, 0);
  pages.push(w.flush()!);
  packets.forEach((p, i) => add(p, (i + 1) * 960));
  pages.push(w.flush(true)!);
  return Buffer.concat(pages);
}

test('the same packets as prism-media’s OggDemuxer for ffmpeg’s files, whatever the chunking', async () => {
  for (const name of ['tone.ogg', 'twotone.ogg', 'mono.ogg']) {
    const bytes = readFileSync(fx.path(name));
    const expected = await prismPackets(bytes);
    expect(expected.length).toBeGreaterThan(40);
    for (const chunks of [[bytes], chop(bytes, 7, 1), chop(bytes, 300, 2), chop(bytes, 5000, 3)]) {
      const { packets, sawHead, failure } = demux(chunks);
      expect(sawHead).toBe(true);
      expect(failure).toBeNull();
      expect(packets).toEqual(expected);
    }
  }
});

test('a packet continued on the next page is joined (a 70 KB OpusTags, 1000-byte audio packets)', () => {
  const audio = Array.from({ length: 300 }, (_, i) => pseudoRandomBytes(1000, i + 10));
  const bytes = oggStream(audio, 70_000);
  // The writer split packets over pages: some pages are flagged "continued".
  let continued = 0;
  for (let i = bytes.indexOf('OggS'); i >= 0; i = bytes.indexOf('OggS', i + 4)) if (bytes[i + 5] & OGG_CONTINUED) continued++;
  expect(continued).toBeGreaterThanOrEqual(3);
  for (const chunks of [[bytes], chop(bytes, 4000, 4)]) {
    const { packets, failure } = demux(chunks);
    expect(failure).toBeNull();
    expect(packets).toEqual(audio);
  }
});

test('packets of other logical streams are dropped; a continued page without its start drops that tail', () => {
  const mine = [Buffer.from([0xfc, 1, 2]), Buffer.from([0xfc, 3, 4])];
  const other = oggStream([Buffer.from([0xfc, 9, 9])], 16, 99);
  const orphan = encodeOggPage({ flags: OGG_CONTINUED, granulePosition: -1, serial: 7, sequence: 50 }, [3, 2], [Buffer.from([7, 7, 7, 0xfc, 5])]);
  const bytes = Buffer.concat([oggStream(mine), other, orphan]);
  const { packets, failure } = demux([bytes]);
  expect(failure).toBeNull();
  expect(packets).toEqual([...mine, Buffer.from([0xfc, 5])]);
});

test('no OpusHead: no packets and sawHead false; garbage: a failure after the packets before it', () => {
  const vorbisLike = encodeOggPage({ flags: OGG_BOS, granulePosition: 0, serial: 1, sequence: 0 }, [8], [Buffer.from('vorbis!!')]);
  expect(demux([vorbisLike])).toEqual({ packets: [], sawHead: false, failure: null });

  const good = oggStream([Buffer.from([0xfc, 1]), Buffer.from([0xfc, 2])]);
  const f = oggOpusFramer(() => 20);
  f.write(Buffer.concat([good, pseudoRandomBytes(100, 5)]));
  expect(f.available()).toBe(true);
  expect(f.failure?.()).toBeNull(); // reported only once the packets before it were read
  expect([f.read(), f.read()]).toEqual([Buffer.from([0xfc, 1]), Buffer.from([0xfc, 2])]);
  expect(f.available()).toBe(false);
  expect(String(f.failure?.())).toMatch(/OggS/);
});

test('an incomplete last page is dropped at the end', () => {
  const bytes = oggStream([Buffer.from([0xfc, 1]), Buffer.from([0xfc, 2])]);
  const { packets } = demux([bytes.subarray(0, bytes.length - 1)]);
  expect(packets).toEqual([]); // both audio packets were on the (truncated) last page
});
