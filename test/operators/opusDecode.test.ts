import { OpusEncoder } from '@discordjs/opus';
import { from, lastValueFrom, toArray } from 'rxjs';
import { OPUS_SILENCE_FRAME, PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { OPUS_GAP, type JitterItem } from '../../src/core/JitterItem';
import { opusDecode, type OpusDecodeStats, type OpusDecoderBackend } from '../../src/operators/opusDecode';
import { dominantFrequency, frequencyPower, generateTone, rms } from '../../src/testing/audio';
import { constFrame, newScheduler, toFrames } from './audioOperatorFixtures';

/** Opus packets of a 440 Hz tone, 20 ms each. */
function tonePackets(frames: number, hz = 440): Buffer[] {
  const encoder = new OpusEncoder(48_000, 2);
  encoder.setBitrate(64_000);
  return toFrames(generateTone({ frequency: hz, durationMs: 20 * frames })).map((f) => encoder.encode(f));
}

/** What a fresh libopus decoder makes of `packets`. */
function reference(packets: Buffer[]): Buffer[] {
  const decoder = new OpusEncoder(48_000, 2);
  return packets.map((p) => decoder.decode(p));
}

const CORRUPT = Buffer.from([0xff, 0xff, 0xff]);
const isFrame = expect.any(Buffer);

describe('opusDecode (marbles)', () => {
  const packets = tonePackets(3);

  it('emits one frame per packet at the packet’s time and completes with the source', () => {
    const [f0, f1, f2] = reference(packets);
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<JitterItem>('a-b--c|', { a: packets[0], b: packets[1], c: packets[2] });
      expectObservable(source.pipe(opusDecode())).toBe('a-b--c|', { a: f0, b: f1, c: f2 });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('turns gaps and corrupt packets into one concealed frame each, without erroring', () => {
    const stats: OpusDecodeStats[] = [];
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold<JitterItem>('a-g-x-b-e|', { a: packets[0], g: OPUS_GAP, x: CORRUPT, b: packets[1], e: Buffer.alloc(0) });
      const decoded = source.pipe(opusDecode({ onStats: (s) => stats.push(s) }));
      expectObservable(decoded).toBe('a-g-x-b-e|', { a: isFrame, g: isFrame, x: isFrame, b: isFrame, e: isFrame });
    });
    expect(stats.at(-1)).toEqual({ decoded: 2, gaps: 1, fecRecovered: 0, corrupt: 2, concealed: 3 });
    expect(stats.map((s) => s.concealed)).toEqual([0, 1, 2, 2, 3]);
  });

  it('passes the source error through', () => {
    newScheduler().run(({ hot, expectObservable }) => {
      const source = hot<JitterItem>('-a-g-#', { a: packets[0], g: OPUS_GAP }, new Error('socket closed'));
      expectObservable(source.pipe(opusDecode())).toBe('-a-g-#', { a: isFrame, g: isFrame }, new Error('socket closed'));
    });
  });

  it('propagates unsubscription', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold<JitterItem>('a-a-a-a|', { a: packets[0] });
      expectObservable(source.pipe(opusDecode()), '^--!').toBe('a-a', { a: isFrame });
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('emits one frame per 20 ms of a longer packet', () => {
    const encoder = new OpusEncoder(48_000, 2);
    const packet40 = encoder.encode(generateTone({ frequency: 440, durationMs: 40 }));
    newScheduler().run(({ cold, expectObservable }) => {
      expectObservable(cold<JitterItem>('(a|)', { a: packet40 }).pipe(opusDecode())).toBe('(ab|)', { a: isFrame, b: isFrame });
    });
  });

  it('errors when onStats throws', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const decoded = cold<JitterItem>('a-a|', { a: packets[0] }).pipe(
        opusDecode({
          onStats: () => {
            throw new Error('stats sink broke');
          },
        }),
      );
      expectObservable(decoded).toBe('#', undefined, new Error('stats sink broke'));
    });
  });
});

describe('opusDecode', () => {
  const decodeAll = (items: JitterItem[], options?: Parameters<typeof opusDecode>[0]) =>
    lastValueFrom(from(items).pipe(opusDecode(options), toArray()));

  it('conceals gaps with libopus PLC: 3840-byte frames that continue the tone', async () => {
    const packets = tonePackets(50);
    const items: JitterItem[] = packets.map((p, i) => (i >= 20 && i < 22 ? OPUS_GAP : p));
    let stats: OpusDecodeStats | undefined;
    const frames = await decodeAll(items, { onStats: (s) => (stats = s) });
    expect(frames).toHaveLength(50);
    for (const frame of frames) expect(frame.length).toBe(PCM_FRAME_BYTES);
    expect(stats).toEqual({ decoded: 48, gaps: 2, fecRecovered: 0, corrupt: 0, concealed: 2 });
    // The first concealed frame extrapolates the 440 Hz tone, at a similar level.
    const concealed = frames[20];
    expect(rms(concealed)).toBeGreaterThan(0.3 * rms(frames[19]));
    expect(frequencyPower(concealed, 440)).toBeGreaterThan(100 * frequencyPower(concealed, 3000));
    expect(Math.abs(dominantFrequency(Buffer.concat(frames)) - 440)).toBeLessThan(2);
  });

  it('conceals after SILK (voice-mode) packets too', async () => {
    const encoder = new OpusEncoder(48_000, 2);
    encoder.setBitrate(16_000);
    encoder.applyEncoderCTL(4024, 3001); // OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)
    const packets = toFrames(generateTone({ frequency: 300, durationMs: 400 })).map((f) => encoder.encode(f));
    expect(packets[15][0] >> 3).toBeLessThan(12); // SILK
    const frames = await decodeAll([...packets, OPUS_GAP]);
    expect(frames).toHaveLength(21);
    expect(frames[20].length).toBe(PCM_FRAME_BYTES);
    expect(rms(frames[20])).toBeGreaterThan(0.2 * rms(frames[19]));
  });

  it('conceals a corrupt packet mid-stream and keeps decoding after it', async () => {
    const packets = tonePackets(20);
    const items: JitterItem[] = packets.map((p, i) => (i === 10 ? CORRUPT : p));
    const frames = await decodeAll(items);
    expect(frames).toHaveLength(20);
    expect(rms(frames[10])).toBeGreaterThan(0.1);
    expect(Math.abs(dominantFrequency(Buffer.concat(frames.slice(11))) - 440)).toBeLessThan(2);
  });

  it('gives silence for gaps before the first packet', async () => {
    const frames = await decodeAll([OPUS_GAP, OPUS_GAP, ...tonePackets(2)]);
    expect(frames[0]).toEqual(Buffer.alloc(PCM_FRAME_BYTES));
    expect(frames[1]).toEqual(Buffer.alloc(PCM_FRAME_BYTES));
    expect(rms(frames[3])).toBeGreaterThan(0.1);
  });

  it('decodes the Opus silence frame to a silent frame', async () => {
    const [frame] = await decodeAll([Buffer.from(OPUS_SILENCE_FRAME)]);
    expect(frame.length).toBe(PCM_FRAME_BYTES);
    expect(rms(frame)).toBe(0);
  });

  it('ignores gap.next with @discordjs/opus (no FEC entry point), but uses decodeFec when the backend has it', async () => {
    const packets = tonePackets(4);
    const withNext: JitterItem[] = [packets[0], { gap: true, next: packets[2] }, packets[2], packets[3]];
    let stats: OpusDecodeStats | undefined;
    await decodeAll(withNext, { onStats: (s) => (stats = s) });
    expect(stats).toMatchObject({ gaps: 1, fecRecovered: 0, concealed: 1 });

    const fecFrame = constFrame(1234);
    const calls: Buffer[] = [];
    const backend = (): OpusDecoderBackend => {
      const opus = new OpusEncoder(48_000, 2);
      return {
        decode: (p) => opus.decode(p),
        decodeFec: (next) => {
          calls.push(next);
          return fecFrame;
        },
      };
    };
    const frames = await decodeAll(withNext, { createDecoder: backend, onStats: (s) => (stats = s) });
    expect(calls).toEqual([packets[2]]);
    expect(frames[1]).toBe(fecFrame);
    expect(stats).toMatchObject({ gaps: 1, fecRecovered: 1, concealed: 0 });
  });

  it('falls back to repeat-and-fade when the backend cannot conceal', async () => {
    const last = constFrame(1000);
    const backend = (): OpusDecoderBackend => ({
      decode: (p) => {
        if (p.length === 1) throw new Error('no PLC');
        return last;
      },
    });
    const frames = await decodeAll([Buffer.from([0xfc, 1, 2]), OPUS_GAP, OPUS_GAP], { createDecoder: backend });
    expect(frames).toEqual([last, constFrame(500), constFrame(250)]);
  });
});
