import { OpusEncoder } from '@discordjs/opus';
import { firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { configureVoiceDriver, voiceDriverThreads } from '../../src/driver/configureVoiceDriver';
import { RxVoiceError } from '../../src/errors';
import { opusDecode } from '../../src/operators/opusDecode';
import { opusEncode } from '../../src/operators/opusEncode';
import { dominantFrequency, generateTone, rms } from '../../src/testing/audio';
import { newScheduler, toFrames } from './audioOperatorFixtures';

const tone = (hz: number, ms: number, amplitude = 0.5) => generateTone({ frequency: hz, durationMs: ms, amplitude });

/** What a fresh encoder with the same settings makes of `frames`. */
function reference(frames: Buffer[], bitrate = 64_000): Buffer[] {
  const encoder = new OpusEncoder(48_000, 2);
  encoder.setBitrate(bitrate);
  return frames.map((frame) => encoder.encode(frame));
}

// Marbles need synchronous emission: the in-process encoder (threads 0). The other tests run
// with the threads in effect (RXVOICE_THREADS); test/operators/opusEncodeWorkers.test.ts
// covers encoding on codec threads.
describe('opusEncode (marbles, in-process)', () => {
  const frames = toFrames(tone(440, 60));
  let threads: number;
  beforeAll(() => {
    threads = voiceDriverThreads();
    configureVoiceDriver({ threads: 0 });
  });
  afterAll(() => configureVoiceDriver({ threads }));

  it('emits one packet per frame, at the frame’s time, and completes with the source', () => {
    const [p0, p1, p2] = reference(frames);
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b--c|', { a: frames[0], b: frames[1], c: frames[2] });
      expectObservable(source.pipe(opusEncode())).toBe('a-b--c|', { a: p0, b: p1, c: p2 });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('passes the source error through after the packets before it', () => {
    const [p0] = reference(frames);
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot('--a--#', { a: frames[0] }, new Error('boom'));
      expectObservable(source.pipe(opusEncode())).toBe('--a--#', { a: p0 }, new Error('boom'));
    });
  });

  it('errors with BAD_FRAME on a frame longer than 3840 bytes and unsubscribes the source', () => {
    const [p0] = reference(frames);
    const long = Buffer.alloc(PCM_FRAME_BYTES + 4);
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-b-c|', { a: frames[0], b: long, c: frames[1] });
      expectObservable(source.pipe(opusEncode())).toBe('a-#', { a: p0 }, expect.objectContaining({ code: 'BAD_FRAME' }));
      expectSubscriptions(source.subscriptions).toBe('^-!');
    });
  });

  it('propagates unsubscription to the source', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a-a-a-a-a|', { a: frames[0] });
      expectObservable(source.pipe(opusEncode()), '^--!').toBe('a-a', { a: expect.any(Buffer) });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('zero-pads a short frame', () => {
    const short = frames[0].subarray(0, 1000);
    const padded = Buffer.alloc(PCM_FRAME_BYTES);
    short.copy(padded);
    const [expected] = reference([padded]);
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold('(a|)', { a: short }).pipe(opusEncode())).toBe('(a|)', { a: expected });
    });
  });
});

describe('opusEncode', () => {
  it('gives each subscription its own encoder', async () => {
    const frames = toFrames(tone(440, 100));
    const encoded = from(frames).pipe(opusEncode(), toArray());
    const first = await firstValueFrom(encoded);
    const second = await firstValueFrom(encoded);
    expect(second).toEqual(first);
    expect(first).toEqual(reference(frames));
  });

  it('round-trips a 440 Hz tone through opusDecode (frequency and level kept)', async () => {
    const pcm = tone(440, 1000);
    const decoded = await lastValueFrom(from(toFrames(pcm)).pipe(opusEncode(), opusDecode(), toArray()));
    expect(decoded).toHaveLength(50);
    const out = Buffer.concat(decoded);
    expect(Math.abs(dominantFrequency(out) - 440)).toBeLessThan(2);
    // Skip the codec's start-up (look-ahead delay) when comparing levels.
    expect(rms(out.subarray(5 * PCM_FRAME_BYTES))).toBeGreaterThan(0.9 * rms(pcm));
    expect(rms(out.subarray(5 * PCM_FRAME_BYTES))).toBeLessThan(1.1 * rms(pcm));
  });

  it('applies bitrate and the CTL options', async () => {
    // White-ish noise needs all the bits it gets, so the packet size follows the bitrate.
    let seed = 1;
    const noise = Buffer.alloc(PCM_FRAME_BYTES * 25);
    for (let i = 0; i < noise.length; i += 2) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      noise.writeInt16LE((seed >> 8) % 16000, i);
    }
    const meanSize = async (options: Parameters<typeof opusEncode>[0]) => {
      const packets = await lastValueFrom(from(toFrames(noise)).pipe(opusEncode(options), toArray()));
      return packets.reduce((n, p) => n + p.length, 0) / packets.length;
    };
    const low = await meanSize({ bitrate: 16_000 });
    const high = await meanSize({ bitrate: 128_000 });
    expect(low).toBeLessThan(60); // 16 kbps ≈ 40 bytes / 20 ms
    expect(high).toBeGreaterThan(250); // 128 kbps ≈ 320 bytes / 20 ms
    const all = await meanSize({ bitrate: 32_000, complexity: 0, fec: true, packetLossPercent: 20, signal: 'voice' });
    expect(all).toBeGreaterThan(0);
    expect(await meanSize({ signal: 'music' })).toBeGreaterThan(0);
  });

  it('applies the signal hint: at 24 kbps voice is coded with SILK, music with CELT', async () => {
    const frames = toFrames(tone(300, 500));
    const modes = async (signal: 'voice' | 'music') => {
      const packets = await lastValueFrom(from(frames).pipe(opusEncode({ bitrate: 24_000, signal }), toArray()));
      // TOC config (top 5 bits): 0‥11 SILK, 12‥15 hybrid, 16‥31 CELT. The encoder settles
      // on a mode after a few frames.
      return packets.slice(-10).map((packet) => packet[0] >> 3);
    };
    expect((await modes('voice')).every((config) => config < 12)).toBe(true);
    expect((await modes('music')).every((config) => config >= 16)).toBe(true);
  });

  it('rejects bad options synchronously with INVALID_ARGUMENT', () => {
    for (const bad of [{ bitrate: 100 }, { bitrate: 1.5e6 }, { complexity: 11 }, { complexity: 2.5 }, { packetLossPercent: -1 }, { signal: 'speech' }]) {
      expect(() => opusEncode(bad as Parameters<typeof opusEncode>[0])).toThrow(RxVoiceError);
      try {
        opusEncode(bad as Parameters<typeof opusEncode>[0]);
      } catch (err) {
        expect((err as RxVoiceError).code).toBe('INVALID_ARGUMENT');
      }
    }
  });
});
