import { createReadStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { SinkDemand } from '../../src/core/FrameDemand';
import { AudioSourceError, oggOpusSource, webmOpusSource } from '../../src/sources';
import { opusPacketDurationMs } from '../../src/sources/internal/opusPacketDurationMs';
import { dominantFrequency } from '../../src/testing/audio';
import { collect, decodeOpus, makeFixtures, pseudoRandomBytes, sleep, subscribeLive, waitFor, type Fixtures } from './helpers';

let fx: Fixtures;

beforeAll(() => {
  fx = makeFixtures(['tone.ogg', 'tone.webm', 'copy.webm', 'vorbis.ogg', 'tone.wav', 'corrupt.mp3']);
});
afterAll(() => fx.remove());

describe.each([
  ['oggOpusSource', oggOpusSource, 'tone.ogg'],
  ['webmOpusSource', webmOpusSource, 'tone.webm'],
] as const)('%s', (_name, source, file) => {
  test('passes through ~1 s of valid 20 ms Opus packets carrying 440 Hz', async () => {
    const { values, completed, error } = await collect(source(fx.path(file)));
    expect(error).toBeUndefined();
    expect(completed).toBe(true);
    // 1 s + 312 samples of encoder pre-skip → 51 packets.
    expect(values.length).toBeGreaterThanOrEqual(50);
    expect(values.length).toBeLessThanOrEqual(52);
    expect(values.every((p) => opusPacketDurationMs(p) === 20)).toBe(true);
    const pcm = decodeOpus(values);
    expect(pcm.length).toBe(values.length * 3840);
    expect(Math.abs(dominantFrequency(pcm) - 440)).toBeLessThanOrEqual(2);
  });

  test('reads a Readable input', async () => {
    const fromPath = await collect(source(fx.path(file)));
    const fromStream = await collect(source(createReadStream(fx.path(file), { highWaterMark: 1000 })));
    expect(fromStream.completed).toBe(true);
    expect(fromStream.values).toEqual(fromPath.values);
  });

  test('a never-consumed 200 ms lead gets exactly 10 packets; consume() releases more', async () => {
    const demand = new SinkDemand(200);
    const live = subscribeLive(source(fx.path(file)), demand);
    expect(await waitFor(() => live.values.length >= 10)).toBe(true);
    await sleep(200);
    expect(live.values).toHaveLength(10);
    demand.consume(200);
    expect(await waitFor(() => live.values.length >= 20)).toBe(true);
    await sleep(100);
    expect(live.values).toHaveLength(20);
    live.drain();
    expect(await waitFor(() => live.completed)).toBe(true);
    const observed = demand as unknown as { changes: { observed: boolean } };
    expect(observed.changes.observed).toBe(false);
  });

  test('random bytes → AudioSourceError SOURCE_CORRUPT', async () => {
    const { error } = await collect(source(fx.path('corrupt.mp3')));
    expect(error).toBeInstanceOf(AudioSourceError);
    expect((error as AudioSourceError).code).toBe('SOURCE_CORRUPT');
  });

  test('a wav file → SOURCE_CORRUPT', async () => {
    const { error } = await collect(source(fx.path('tone.wav')));
    expect((error as AudioSourceError).code).toBe('SOURCE_CORRUPT');
  });

  test('an empty input → SOURCE_CORRUPT (no Opus stream)', async () => {
    const { error } = await collect(source(Readable.from([])));
    expect((error as AudioSourceError).code).toBe('SOURCE_CORRUPT');
  });

  test('a missing file → SOURCE_FAILED', async () => {
    const { error } = await collect(source(fx.path('missing')));
    expect((error as AudioSourceError).code).toBe('SOURCE_FAILED');
  });

  test('unsubscribing destroys the input stream', async () => {
    const input = createReadStream(fx.path(file), { highWaterMark: 256 });
    const live = subscribeLive(source(input), new SinkDemand(40));
    expect(await waitFor(() => live.values.length >= 2)).toBe(true);
    live.subscription.unsubscribe();
    expect(input.destroyed).toBe(true);
  });
});

test('ogg and webm demuxers yield byte-identical packets for the same stream (-c:a copy remux)', async () => {
  const ogg = await collect(oggOpusSource(fx.path('tone.ogg')));
  const webm = await collect(webmOpusSource(fx.path('copy.webm')));
  expect(ogg.completed).toBe(true);
  expect(webm.completed).toBe(true);
  // Every packet, including those ffmpeg writes as BlockGroups (the end-trimmed last one; with
  // ffmpeg >= 5 the first one too): same count, same bytes, whichever ffmpeg made the files.
  expect(webm.values.length).toBe(ogg.values.length);
  expect(webm.values.every((p, i) => p.equals(ogg.values[i]))).toBe(true);
});

test('an Ogg Vorbis file → SOURCE_CORRUPT (no Opus stream)', async () => {
  const { error } = await collect(oggOpusSource(fx.path('vorbis.ogg')));
  expect(error).toBeInstanceOf(AudioSourceError);
  expect((error as AudioSourceError).code).toBe('SOURCE_CORRUPT');
  expect((error as Error).message).toMatch(/no Opus stream/);
});

test('a truncated Ogg stream ends cleanly with the whole pages it had', async () => {
  const whole = await collect(oggOpusSource(fx.path('tone.ogg')));
  const bytes = readFileSync(fx.path('tone.ogg'));
  const { values, completed } = await collect(oggOpusSource(Readable.from([bytes.subarray(0, bytes.length >> 1)])));
  expect(completed).toBe(true);
  expect(values.length).toBeLessThan(whole.values.length);
  expect(values.every((p, i) => p.equals(whole.values[i]))).toBe(true);
});

test('garbage after whole Ogg pages → SOURCE_CORRUPT after the good packets, no crash', async () => {
  const bytes = readFileSync(fx.path('tone.ogg'));
  // Pages: OpusHead, OpusTags, audio…; keep the first audio page.
  const pageStarts: number[] = [];
  for (let i = bytes.indexOf('OggS'); i >= 0; i = bytes.indexOf('OggS', i + 4)) pageStarts.push(i);
  expect(pageStarts.length).toBeGreaterThanOrEqual(4);
  const head = bytes.subarray(0, pageStarts[3]);
  const { values, error } = await collect(oggOpusSource(Readable.from([head, pseudoRandomBytes(8192, 7)])));
  expect(values.length).toBeGreaterThan(0);
  expect((error as AudioSourceError).code).toBe('SOURCE_CORRUPT');
});

describe('opusPacketDurationMs', () => {
  test.each([
    [[0xfc], 20], // CELT FB 20 ms, 1 frame
    [[0xf8, 0xff, 0xfe], 20], // the silence frame
    [[0x80], 2.5], // CELT NB 2.5 ms
    [[0x78], 20], // Hybrid FB 20 ms
    [[0x70], 10], // Hybrid FB 10 ms
    [[0x18], 60], // SILK NB 60 ms
    [[0x10], 40], // SILK NB 40 ms
    [[0xfd, 0x00], 40], // code 1: 2 × 20 ms
    [[0xfe, 0x00], 40], // code 2: 2 × 20 ms
    [[0xff, 0x03], 60], // code 3: 3 × 20 ms
  ])('%j → %d ms', (bytes, ms) => {
    expect(opusPacketDurationMs(Buffer.from(bytes))).toBe(ms);
  });

  test('code 3 counts frames from the count byte; malformed packets count as 20 ms', () => {
    expect(opusPacketDurationMs(Buffer.from([0x83, 0x04]))).toBe(10); // CELT NB 2.5 ms × 4
    expect(opusPacketDurationMs(Buffer.from([0xff, 0x86]))).toBe(120); // 6 × 20 ms (VBR/padding flags ignored)
    expect(opusPacketDurationMs(Buffer.alloc(0))).toBe(20);
    expect(opusPacketDurationMs(Buffer.from([0xff]))).toBe(20);
  });
});
