import { createReadStream, readFileSync, statSync } from 'node:fs';
import { OpusEncoder } from '@discordjs/opus';
import { opus } from 'prism-media';
import { concat, from, Subject, throwError } from 'rxjs';
import { RxVoiceError } from '../../src/errors';
import { oggOpusFileSink } from '../../src/sinks';
import { dominantFrequency } from '../../src/testing/audio';
import { oggPackets, parseOggPages, type ParsedPage } from './helpers/ogg';
import { collect, demandAwareSource, errorOf, ffmpegDecode, opusPackets, tempDir, waitFor } from './helpers/sources';

const tmp = tempDir();
afterAll(() => tmp.remove());

const BOS = 0x02;
const EOS = 0x04;

/** Reads an Ogg Opus file back with prism-media's demuxer: head, tags and packets. */
function demux(path: string): Promise<{ head: Buffer; tags: Buffer; packets: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const demuxer = new opus.OggDemuxer();
    const packets: Buffer[] = [];
    let head: Buffer = Buffer.alloc(0);
    let tags: Buffer = Buffer.alloc(0);
    demuxer.on('head', (b: Buffer) => (head = b));
    demuxer.on('tags', (b: Buffer) => (tags = b));
    demuxer.on('data', (b: Buffer) => packets.push(b));
    demuxer.on('end', () => resolve({ head, tags, packets }));
    demuxer.on('error', reject);
    createReadStream(path).on('error', reject).pipe(demuxer);
  });
}

/** Checks the RFC 7845 / RFC 3533 structure of a whole file and returns its pages. */
function checkStructure(file: Buffer, expected: { packets: Buffer[]; granules: number[] }): ParsedPage[] {
  const pages = parseOggPages(file);
  for (const page of pages) expect(page.crc).toBe(page.computedCrc);
  expect(pages.map((p) => p.sequence)).toEqual(pages.map((_, i) => i));
  expect(new Set(pages.map((p) => p.serial)).size).toBe(1);
  expect(pages.map((p) => p.flags & BOS)).toEqual(pages.map((_, i) => (i === 0 ? BOS : 0)));
  expect(pages.map((p) => p.flags & EOS)).toEqual(pages.map((_, i) => (i === pages.length - 1 ? EOS : 0)));
  const packets = oggPackets(pages);
  // OpusHead alone on page 0, OpusTags alone on page 1 (granule 0), audio from page 2.
  expect(packets[0]).toMatchObject({ pageIndex: 0 });
  expect(packets[0].data.toString('latin1', 0, 8)).toBe('OpusHead');
  expect(packets[1]).toMatchObject({ pageIndex: 1 });
  expect(packets[1].data.toString('latin1', 0, 8)).toBe('OpusTags');
  expect(pages[0].lacing).toHaveLength(1);
  expect(pages[0].granulePosition).toBe(0n);
  expect(pages[1].granulePosition).toBe(0n);
  const audio = packets.slice(2);
  expect(audio.length).toBe(expected.packets.length);
  audio.forEach((p, i) => expect(p.data.equals(expected.packets[i])).toBe(true));
  if (audio.length > 0) expect(audio[0].pageIndex).toBeGreaterThanOrEqual(2);
  // Each audio page's granule is the running sample count at its last packet.
  for (let index = 2; index < pages.length; index++) {
    const last = audio.map((p, i) => ({ ...p, i })).filter((p) => p.pageIndex === index).pop();
    if (last) expect(pages[index].granulePosition).toBe(BigInt(expected.granules[last.i]));
  }
  return pages;
}

function runningSum(values: number[]): number[] {
  let sum = 0;
  return values.map((v) => (sum += v));
}

describe('oggOpusFileSink', () => {
  const packets = opusPackets(440, 1000);

  test('50 packets of a 440 Hz tone: demuxed byte for byte, decoded by ffmpeg at 440 Hz for ≈ 1 s', async () => {
    expect(packets).toHaveLength(50);
    const path = tmp.file('tone.opus');
    const [result] = await collect(from(packets).pipe(oggOpusFileSink(path, { serial: 0x1234abcd })));
    const file = readFileSync(path);
    expect(result).toEqual({ path, bytes: file.length, packets: 50, durationMs: (48000 - 312) / 48 });

    // Structure, CRC, granules: 50 × 960 samples on one 1 s page.
    const pages = checkStructure(file, { packets, granules: runningSum(packets.map(() => 960)) });
    expect(pages).toHaveLength(3);
    expect(pages[2].granulePosition).toBe(48000n);
    expect(pages[0].serial).toBe(0x1234abcd);

    // (a) prism-media reads back the same packets, head and tags.
    const demuxed = await demux(path);
    expect(demuxed.packets).toHaveLength(50);
    demuxed.packets.forEach((p, i) => expect(p.equals(packets[i])).toBe(true));
    expect(demuxed.head.toString('latin1', 0, 8)).toBe('OpusHead');
    expect(demuxed.head[8]).toBe(1); // version
    expect(demuxed.head[9]).toBe(2); // channels
    expect(demuxed.head.readUInt16LE(10)).toBe(312); // pre-skip
    expect(demuxed.head.readUInt32LE(12)).toBe(48000);
    expect(demuxed.head.readInt16LE(16)).toBe(0);
    expect(demuxed.head[18]).toBe(0); // mapping family
    expect(demuxed.tags).toEqual(Buffer.concat([Buffer.from('OpusTags'), Buffer.from([7, 0, 0, 0]), Buffer.from('rxvoice'), Buffer.alloc(4)]));

    // (b) ffmpeg decodes it without a word, at 440 Hz, for 1 s minus the pre-skip.
    const decoded = await ffmpegDecode(path);
    expect({ code: decoded.code, stderr: decoded.stderr }).toEqual({ code: 0, stderr: '' });
    const frames = decoded.stdout.length / 4;
    expect(frames).toBe(48000 - 312);
    expect(Math.abs(dominantFrequency(decoded.stdout) - 440)).toBeLessThan(2);
  });

  test('granule positions follow each packet’s TOC for mixed durations, and ffmpeg agrees', async () => {
    const encoder = new OpusEncoder(48000, 2);
    const sizes = [960, 480, 1920, 2880, 240, 120, 960, 2880, 2880, 960];
    const pcm = (samples: number, start: number): Buffer => {
      const b = Buffer.alloc(samples * 4);
      for (let i = 0; i < samples; i++) {
        const s = Math.round(10000 * Math.sin((2 * Math.PI * 440 * (start + i)) / 48000));
        b.writeInt16LE(s, i * 4);
        b.writeInt16LE(s, i * 4 + 2);
      }
      return b;
    };
    const mixed: Buffer[] = [];
    let at = 0;
    for (const size of sizes) {
      mixed.push(encoder.encode(pcm(size, at)));
      at += size;
    }
    const path = tmp.file('mixed.opus');
    const [result] = await collect(from(mixed).pipe(oggOpusFileSink(path, { vendor: 'test vendor ✓' })));
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(result.durationMs).toBe((total - 312) / 48);
    checkStructure(readFileSync(path), { packets: mixed, granules: runningSum(sizes) });
    const decoded = await ffmpegDecode(path);
    expect({ code: decoded.code, stderr: decoded.stderr }).toEqual({ code: 0, stderr: '' });
    expect(decoded.stdout.length / 4).toBe(total - 312);
    expect((await demux(path)).tags.toString('utf8', 12, 12 + Buffer.byteLength('test vendor ✓'))).toBe('test vendor ✓');
  });

  test('pages hold at most 1 s of audio', async () => {
    const path = tmp.file('pages.opus');
    const many = Array.from({ length: 130 }, (_, i) => packets[i % 50]);
    await collect(from(many).pipe(oggOpusFileSink(path)));
    const pages = checkStructure(readFileSync(path), { packets: many, granules: runningSum(many.map(() => 960)) });
    expect(pages.slice(2).map((p) => p.granulePosition)).toEqual([48000n, 96000n, 130n * 960n]);
  });

  test('pages hold at most 255 segments', async () => {
    // 600-byte 10 ms CELT packets (config 30) take 3 lacing values each, so the
    // 255-segment limit cuts pages at 85 packets (0.85 s), before the 1 s limit.
    const path = tmp.file('segments.opus');
    const big = Array.from({ length: 200 }, (_, i) => Buffer.concat([Buffer.from([(30 << 3) | 0]), Buffer.alloc(599, i)]));
    await collect(from(big).pipe(oggOpusFileSink(path)));
    const pages = checkStructure(readFileSync(path), { packets: big, granules: runningSum(big.map(() => 480)) });
    expect(pages.slice(2).map((p) => p.lacing.length)).toEqual([255, 255, 90]);
  });

  test('an empty input gives head and tags pages, the tags page flagged EOS', async () => {
    const path = tmp.file('empty.opus');
    const [result] = await collect(from([] as Buffer[]).pipe(oggOpusFileSink(path, { channels: 1, preSkip: 0 })));
    const file = readFileSync(path);
    expect(result).toEqual({ path, bytes: file.length, packets: 0, durationMs: 0 });
    const pages = checkStructure(file, { packets: [], granules: [] });
    expect(pages).toHaveLength(2);
  });

  test('the serial is random per file', async () => {
    const a = tmp.file('serial-a.opus');
    const b = tmp.file('serial-b.opus');
    await collect(from(packets.slice(0, 2)).pipe(oggOpusFileSink(a)));
    await collect(from(packets.slice(0, 2)).pipe(oggOpusFileSink(b)));
    expect(parseOggPages(readFileSync(a))[0].serial).not.toBe(parseOggPages(readFileSync(b))[0].serial);
  });

  test('on upstream error the file is finalized with EOS, then the same error is emitted', async () => {
    const path = tmp.file('upstream-error.opus');
    const boom = new Error('boom');
    const some = packets.slice(0, 10);
    expect(await errorOf(concat(from(some), throwError(() => boom)).pipe(oggOpusFileSink(path)))).toBe(boom);
    checkStructure(readFileSync(path), { packets: some, granules: runningSum(some.map(() => 960)) });
  });

  test('a malformed packet is OPUS_MALFORMED, after finalizing what came before', async () => {
    const path = tmp.file('malformed.opus');
    const some = packets.slice(0, 5);
    const error = await errorOf(from([...some, Buffer.alloc(0), packets[5]]).pipe(oggOpusFileSink(path)));
    expect(error).toBeInstanceOf(RxVoiceError);
    expect((error as RxVoiceError).code).toBe('OPUS_MALFORMED');
    checkStructure(readFileSync(path), { packets: some, granules: runningSum(some.map(() => 960)) });
  });

  test('unsubscribing closes the file with an EOS page', async () => {
    const path = tmp.file('unsubscribed.opus');
    const input = new Subject<Buffer>();
    const sub = input.pipe(oggOpusFileSink(path)).subscribe({ error: (e) => fail(e) });
    packets.slice(0, 7).forEach((p) => input.next(p));
    sub.unsubscribe();
    expect(input.observed).toBe(false);
    await waitFor(() => {
      const file = statSync(path, { throwIfNoEntry: false }) ? readFileSync(path) : Buffer.alloc(0);
      return file.length > 0 && parseOggPages(file).pop()?.flags === EOS;
    });
    checkStructure(readFileSync(path), { packets: packets.slice(0, 7), granules: runningSum(packets.slice(0, 7).map(() => 960)) });
  });

  test('a file-system error is a typed SINK_FAILED, not a crash', async () => {
    const input = new Subject<Buffer>();
    const error = await errorOf(input.pipe(oggOpusFileSink(tmp.file('missing/dir/x.opus'))));
    expect(error).toBeInstanceOf(RxVoiceError);
    expect((error as RxVoiceError).code).toBe('SINK_FAILED');
    expect(input.observed).toBe(false);
    const sync = await errorOf(from(packets).pipe(oggOpusFileSink(tmp.dir)));
    expect((sync as RxVoiceError).code).toBe('SINK_FAILED');
  });

  test('rejects bad options synchronously', () => {
    for (const options of [{ channels: 3 }, { channels: 0 }, { preSkip: -1 }, { preSkip: 70000 }, { serial: 2 ** 32 }, { serial: 1.5 }]) {
      expect(() => oggOpusFileSink('x.opus', options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  test('3 minutes from a demand-aware source are written with bounded memory', async () => {
    const path = tmp.file('long.opus');
    const total = 9000; // 3 min of 20 ms packets
    let producedBytes = 0;
    let maxBytesAheadOfDisk = 0;
    const source = demandAwareSource(total, (i) => packets[i % 50], {
      onProduce: (produced) => {
        const onDisk = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
        maxBytesAheadOfDisk = Math.max(maxBytesAheadOfDisk, producedBytes - onDisk);
        producedBytes += packets[produced % 50].length;
      },
    });
    const started = Date.now();
    const [result] = await collect(source.pipe(oggOpusFileSink(path)));
    const file = readFileSync(path);
    expect(result).toEqual({ path, bytes: file.length, packets: total, durationMs: (total * 960 - 312) / 48 });
    const pages = parseOggPages(file);
    expect(pages).toHaveLength(2 + 180);
    for (const page of pages) expect(page.crc).toBe(page.computedCrc);
    expect(pages[pages.length - 1].granulePosition).toBe(BigInt(total * 960));
    // What is not on disk yet stays a few seconds' worth; without backpressure it would be
    // the whole ≈ 2.3 MB.
    const bytesPerSecond = packets.reduce((a, p) => a + p.length, 0);
    // Measured ≈ 3 s: the current page (≤ 1 s), the 1 s lead, and the write stream's
    // 16 KiB high-water mark (≈ 1.3 s at this bitrate).
    expect(maxBytesAheadOfDisk).toBeLessThanOrEqual(5 * bytesPerSecond);
    expect(producedBytes).toBeGreaterThan(150 * bytesPerSecond);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
