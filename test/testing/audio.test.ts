import fc from 'fast-check';
import { OpusEncoder } from '@discordjs/opus';
import { RxVoiceError } from '../../src/errors';
import {
  alignedSnr,
  dominantFrequency,
  durationMs,
  encodeWav,
  frequencyPower,
  generateTone,
  parseWav,
  rms,
  toMono,
} from '../../src/testing/audio';

/** 20 ms at 48 kHz stereo s16le. */
const FRAME_BYTES = 3840;
/** libopus encoder lookahead at 48 kHz (2.5 ms + 4 ms delay compensation), samples. */
const OPUS_LOOKAHEAD = 312;

/** Encodes `pcm` as 20 ms Opus frames (the last one zero-padded) and decodes it back. */
function opusRoundTrip(pcm: Buffer): Buffer {
  const codec = new OpusEncoder(48000, 2);
  const out: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += FRAME_BYTES) {
    const frame = Buffer.alloc(FRAME_BYTES);
    pcm.copy(frame, 0, offset, Math.min(offset + FRAME_BYTES, pcm.length));
    out.push(codec.decode(codec.encode(frame)));
  }
  return Buffer.concat(out);
}

/** Silence of `frames` stereo frames. */
function silence(frames: number, channels = 2): Buffer {
  return Buffer.alloc(frames * channels * 2);
}

/** Sample-wise sum of equally long s16le buffers. */
function mix(...parts: Buffer[]): Buffer {
  const out = Buffer.alloc(parts[0].length);
  for (let i = 0; i < out.length; i += 2) {
    let s = 0;
    for (const p of parts) s += p.readInt16LE(i);
    out.writeInt16LE(Math.max(-32768, Math.min(32767, s)), i);
  }
  return out;
}

function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectRxVoiceError(fn: () => unknown, code: string): void {
  const e = thrownBy(fn);
  expect(e).toBeInstanceOf(RxVoiceError);
  expect((e as RxVoiceError).code).toBe(code);
}

describe('generateTone', () => {
  it('produces s16le interleaved frames of the requested length', () => {
    const pcm = generateTone({ frequency: 440, durationMs: 20 });
    expect(pcm).toBeInstanceOf(Buffer);
    expect(pcm.length).toBe(FRAME_BYTES);
    expect(generateTone({ frequency: 440, durationMs: 1000 }).length).toBe(48000 * 4);
    expect(generateTone({ frequency: 440, durationMs: 20, sampleRate: 16000, channels: 1 }).length).toBe(320 * 2);
    expect(generateTone({ frequency: 440, durationMs: 0 }).length).toBe(0);
  });

  it('writes the same sine to every channel, with amplitude and phase', () => {
    const pcm = generateTone({ frequency: 1000, durationMs: 10, amplitude: 0.25, channels: 3 });
    for (let i = 0; i < pcm.length; i += 6) {
      expect(pcm.readInt16LE(i + 2)).toBe(pcm.readInt16LE(i));
      expect(pcm.readInt16LE(i + 4)).toBe(pcm.readInt16LE(i));
    }
    expect(pcm.readInt16LE(0)).toBe(0);
    // 1 kHz at 48 kHz: sample 12 is a quarter period → the positive peak.
    expect(pcm.readInt16LE(12 * 6)).toBe(Math.round(0.25 * 32767));
    const cosine = generateTone({ frequency: 1000, durationMs: 1, phase: Math.PI / 2 });
    expect(cosine.readInt16LE(0)).toBe(Math.round(0.5 * 32767));
  });

  it('clips amplitudes above full scale', () => {
    const pcm = generateTone({ frequency: 100, durationMs: 20, amplitude: 2 });
    let max = 0;
    let min = 0;
    for (let i = 0; i < pcm.length; i += 2) {
      max = Math.max(max, pcm.readInt16LE(i));
      min = Math.min(min, pcm.readInt16LE(i));
    }
    expect(max).toBe(32767);
    expect(min).toBe(-32768);
  });

  it('rejects bad arguments with INVALID_ARGUMENT', () => {
    expectRxVoiceError(() => generateTone({ frequency: 440, durationMs: -1 }), 'INVALID_ARGUMENT');
    expectRxVoiceError(() => generateTone({ frequency: NaN, durationMs: 10 }), 'INVALID_ARGUMENT');
    expectRxVoiceError(() => generateTone({ frequency: 440, durationMs: 10, channels: 0 }), 'INVALID_ARGUMENT');
    expectRxVoiceError(() => generateTone({ frequency: 440, durationMs: 10, sampleRate: 0 }), 'INVALID_ARGUMENT');
  });
});

describe('toMono / rms / durationMs', () => {
  it('toMono averages channels into [-1, 1] and ignores a partial frame', () => {
    const pcm = Buffer.alloc(4 * 3 + 2);
    [16384, 0, -32768, -32768, 32767, 32767].forEach((s, i) => pcm.writeInt16LE(s, 2 * i));
    const mono = toMono(pcm);
    expect(mono).toBeInstanceOf(Float32Array);
    expect(Array.from(mono)).toEqual([0.25, -1, 32767 / 32768]);
    expect(Array.from(toMono(pcm.subarray(0, 4), 1))).toEqual([0.5, 0]);
    expect(toMono(Buffer.alloc(0)).length).toBe(0);
  });

  it('toMono reads unaligned views', () => {
    const backing = Buffer.alloc(5);
    backing.writeInt16LE(-16384, 1);
    backing.writeInt16LE(-16384, 3);
    expect(Array.from(toMono(backing.subarray(1)))).toEqual([-0.5]);
  });

  it('rms of a 0.5-amplitude sine ≈ 0.3536 full scale', () => {
    expect(rms(generateTone({ frequency: 440, durationMs: 1000 }))).toBeCloseTo(0.5 / Math.SQRT2, 3);
    expect(rms(generateTone({ frequency: 440, durationMs: 1000, amplitude: 0.1, channels: 1 }), 1)).toBeCloseTo(0.1 / Math.SQRT2, 3);
    expect(rms(silence(960))).toBe(0);
    expect(rms(Buffer.alloc(0))).toBe(0);
    const full = Buffer.alloc(8);
    full.writeInt16LE(-32768, 0);
    full.writeInt16LE(-32768, 2);
    full.writeInt16LE(-32768, 4);
    full.writeInt16LE(-32768, 6);
    expect(rms(full)).toBe(1);
  });

  it('durationMs counts whole frames', () => {
    expect(durationMs(Buffer.alloc(FRAME_BYTES))).toBe(20);
    expect(durationMs(Buffer.alloc(FRAME_BYTES + 3))).toBe(20);
    expect(durationMs(Buffer.alloc(640), { sampleRate: 16000, channels: 1 })).toBe(20);
    expect(durationMs(Buffer.alloc(0))).toBe(0);
  });
});

describe('dominantFrequency', () => {
  it.each([
    [440, 1000],
    [660, 1000],
    [1000, 1000],
    [440, 500],
    [660, 500],
    [1000, 500],
  ])('finds %d Hz in a %d ms tone within ±0.5 Hz', (hz, ms) => {
    const found = dominantFrequency(generateTone({ frequency: hz, durationMs: ms, phase: 0.3 }));
    expect(Math.abs(found - hz)).toBeLessThan(0.5);
    // The DTFT refinement is far better than the bound asked for.
    expect(Math.abs(found - hz)).toBeLessThan(0.01);
  });

  it.each([440, 660, 1000])('finds %d Hz after an Opus round trip within ±2 Hz', (hz) => {
    const decoded = opusRoundTrip(generateTone({ frequency: hz, durationMs: 500 }));
    expect(Math.abs(dominantFrequency(decoded) - hz)).toBeLessThan(2);
  });

  it('handles other formats, odd lengths and non-bin frequencies', () => {
    const mono16k = generateTone({ frequency: 1234.5, durationMs: 333, sampleRate: 16000, channels: 1 });
    expect(dominantFrequency(mono16k, { sampleRate: 16000, channels: 1 })).toBeCloseTo(1234.5, 1);
    const odd = generateTone({ frequency: 97.3, durationMs: 777 });
    expect(dominantFrequency(Buffer.concat([odd, Buffer.alloc(3)]))).toBeCloseTo(97.3, 1);
  });

  it('respects minHz / maxHz', () => {
    const pcm = mix(
      generateTone({ frequency: 440, durationMs: 500, amplitude: 0.5 }),
      generateTone({ frequency: 3000, durationMs: 500, amplitude: 0.2 }),
    );
    expect(dominantFrequency(pcm)).toBeCloseTo(440, 1);
    expect(dominantFrequency(pcm, { minHz: 1000 })).toBeCloseTo(3000, 1);
    expect(dominantFrequency(pcm, { maxHz: 2000 })).toBeCloseTo(440, 1);
    expectRxVoiceError(() => dominantFrequency(pcm, { minHz: 500, maxHz: 100 }), 'INVALID_ARGUMENT');
  });

  it('returns 0 for silence, DC and tiny inputs', () => {
    expect(dominantFrequency(silence(48000))).toBe(0);
    expect(dominantFrequency(Buffer.alloc(0))).toBe(0);
    expect(dominantFrequency(Buffer.alloc(4, 0x10))).toBe(0);
    const dc = Buffer.alloc(4 * 4800);
    for (let i = 0; i < dc.length; i += 2) dc.writeInt16LE(1000, i);
    expect(dominantFrequency(dc)).toBe(0);
  });

  it('analyses 10 s of audio', () => {
    // Speed is a benchmark concern (no timing assertions in unit tests); this checks long inputs work.
    const long = generateTone({ frequency: 523.25, durationMs: 10000 });
    expect(dominantFrequency(long)).toBeCloseTo(523.25, 2);
  });
});

describe('frequencyPower', () => {
  it('gives a²/2 for a sine of amplitude a', () => {
    expect(frequencyPower(generateTone({ frequency: 440, durationMs: 500 }), 440)).toBeCloseTo(0.125, 3);
    const mono = generateTone({ frequency: 300, durationMs: 200, amplitude: 0.2, sampleRate: 8000, channels: 1 });
    expect(frequencyPower(mono, 300, { sampleRate: 8000, channels: 1 })).toBeCloseTo(0.02, 3);
    expect(frequencyPower(Buffer.alloc(0), 440)).toBe(0);
  });

  it('shows both tones of a 440 + 660 Hz mix and nothing at 550 Hz', () => {
    const pcm = mix(
      generateTone({ frequency: 440, durationMs: 500, amplitude: 0.25 }),
      generateTone({ frequency: 660, durationMs: 500, amplitude: 0.25 }),
    );
    const p440 = frequencyPower(pcm, 440);
    const p660 = frequencyPower(pcm, 660);
    const p550 = frequencyPower(pcm, 550);
    expect(p440).toBeCloseTo(0.25 ** 2 / 2, 3);
    expect(p660).toBeCloseTo(0.25 ** 2 / 2, 3);
    expect(p550).toBeLessThan(p440 / 1e4);
    expect(p550).toBeLessThan(p660 / 1e4);
  });

  it('still separates the tones after an Opus round trip', () => {
    const decoded = opusRoundTrip(
      mix(
        generateTone({ frequency: 440, durationMs: 500, amplitude: 0.25 }),
        generateTone({ frequency: 660, durationMs: 500, amplitude: 0.25 }),
      ),
    );
    const p550 = frequencyPower(decoded, 550);
    expect(frequencyPower(decoded, 440)).toBeGreaterThan(100 * p550);
    expect(frequencyPower(decoded, 660)).toBeGreaterThan(100 * p550);
  });
});

describe('alignedSnr', () => {
  const reference = generateTone({ frequency: 440, durationMs: 500 });

  it('finds an exact delay and reports a perfect match', () => {
    const delayed = Buffer.concat([silence(123), reference]);
    const r = alignedSnr(delayed, reference);
    expect(r.lagSamples).toBe(123);
    expect(r.gain).toBeCloseTo(1, 6);
    expect(r.snrDb).toBeGreaterThan(60);
    // received early → negative lag
    expect(alignedSnr(reference, delayed).lagSamples).toBe(-123);
  });

  it('fits the gain of a quieter copy', () => {
    const quiet = generateTone({ frequency: 440, durationMs: 500, amplitude: 0.125 });
    const r = alignedSnr(Buffer.concat([silence(50), quiet]), reference);
    expect(r.lagSamples).toBe(50);
    expect(r.gain).toBeCloseTo(0.25, 3);
    expect(r.snrDb).toBeGreaterThan(40);
  });

  it('aligns an Opus round-tripped, delayed tone: lag = 123 + Opus lookahead, SNR > 15 dB', () => {
    const sent = Buffer.concat([silence(123), reference, Buffer.alloc(FRAME_BYTES)]);
    const r = alignedSnr(opusRoundTrip(sent), reference);
    expect(Math.abs(r.lagSamples - (123 + OPUS_LOOKAHEAD))).toBeLessThanOrEqual(1);
    expect(r.snrDb).toBeGreaterThan(15);
    expect(r.gain).toBeGreaterThan(0.9);
    expect(r.gain).toBeLessThan(1.1);
  });

  it('scores a different tone near or below 0 dB', () => {
    const other = opusRoundTrip(generateTone({ frequency: 660, durationMs: 500 }));
    expect(alignedSnr(other, reference).snrDb).toBeLessThan(3);
    const noise = Buffer.alloc(reference.length);
    let seed = 1;
    for (let i = 0; i < noise.length; i += 2) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      noise.writeInt16LE((seed >>> 16) - 32768, i);
    }
    expect(alignedSnr(noise, reference).snrDb).toBeLessThan(3);
  });

  it('limits the search to maxLagMs and handles empty input', () => {
    const delayed = Buffer.concat([silence(480), reference]);
    expect(alignedSnr(delayed, reference, { maxLagMs: 20 }).lagSamples).toBe(480);
    expect(Math.abs(alignedSnr(delayed, reference, { maxLagMs: 5 }).lagSamples)).toBeLessThanOrEqual(240);
    expect(alignedSnr(Buffer.alloc(0), reference)).toEqual({ snrDb: -Infinity, lagSamples: 0, gain: 0 });
    expect(alignedSnr(reference, silence(100)).snrDb).toBe(-Infinity);
    expectRxVoiceError(() => alignedSnr(reference, reference, { maxLagMs: -1 }), 'INVALID_ARGUMENT');
  });
});

describe('WAV', () => {
  const pcm = generateTone({ frequency: 440, durationMs: 20 });

  /** Builds a RIFF chunk (with pad byte when odd). */
  function chunk(id: string, body: Buffer): Buffer {
    const head = Buffer.alloc(8);
    head.write(id, 0, 'latin1');
    head.writeUInt32LE(body.length, 4);
    return Buffer.concat([head, body, Buffer.alloc(body.length & 1)]);
  }

  function fmtBody(format: number, channels: number, sampleRate: number, bits: number): Buffer {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(format, 0);
    b.writeUInt16LE(channels, 2);
    b.writeUInt32LE(sampleRate, 4);
    b.writeUInt32LE((sampleRate * channels * bits) / 8, 8);
    b.writeUInt16LE((channels * bits) / 8, 12);
    b.writeUInt16LE(bits, 14);
    return b;
  }

  function riff(...chunks: Buffer[]): Buffer {
    const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), ...chunks]);
    const head = Buffer.alloc(8);
    head.write('RIFF', 0, 'latin1');
    head.writeUInt32LE(body.length, 4);
    return Buffer.concat([head, body]);
  }

  it('encodes a canonical 44-byte header', () => {
    const wav = encodeWav(pcm);
    expect(wav.length).toBe(44 + pcm.length);
    expect(wav.toString('latin1', 0, 4)).toBe('RIFF');
    expect(wav.readUInt32LE(4)).toBe(36 + pcm.length);
    expect(wav.toString('latin1', 8, 16)).toBe('WAVEfmt ');
    expect(wav.readUInt32LE(16)).toBe(16);
    expect(wav.readUInt16LE(20)).toBe(1);
    expect(wav.readUInt16LE(22)).toBe(2);
    expect(wav.readUInt32LE(24)).toBe(48000);
    expect(wav.readUInt32LE(28)).toBe(192000);
    expect(wav.readUInt16LE(32)).toBe(4);
    expect(wav.readUInt16LE(34)).toBe(16);
    expect(wav.toString('latin1', 36, 40)).toBe('data');
    expect(wav.readUInt32LE(40)).toBe(pcm.length);
    expect(wav.subarray(44).equals(pcm)).toBe(true);
    expect(encodeWav(Buffer.concat([pcm, Buffer.alloc(3)])).length).toBe(44 + pcm.length);
  });

  it('round-trips PCM and format', () => {
    expect(parseWav(encodeWav(pcm))).toEqual({ pcm, sampleRate: 48000, channels: 2, bitsPerSample: 16 });
    const mono = generateTone({ frequency: 300, durationMs: 30, sampleRate: 8000, channels: 1 });
    const parsed = parseWav(encodeWav(mono, { sampleRate: 8000, channels: 1 }));
    expect(parsed.pcm.equals(mono)).toBe(true);
    expect([parsed.sampleRate, parsed.channels]).toEqual([8000, 1]);
    expect(parseWav(encodeWav(Buffer.alloc(0))).pcm.length).toBe(0);
  });

  it('skips LIST and odd-sized chunks, in any order, and ignores trailing bytes', () => {
    const data = pcm.subarray(0, 400);
    const wav = riff(
      chunk('LIST', Buffer.from('INFOISFT\x05\x00\x00\x00test\x00', 'latin1')),
      chunk('junk', Buffer.alloc(3, 7)),
      chunk('data', data),
      chunk('fmt ', fmtBody(1, 2, 44100, 16)),
    );
    const parsed = parseWav(Buffer.concat([wav, Buffer.from('trailing garbage')]));
    expect(parsed.pcm.equals(data)).toBe(true);
    expect(parsed.sampleRate).toBe(44100);
  });

  it('converts 8-bit, 24-bit and float samples to s16le', () => {
    const u8 = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 8)), chunk('data', Buffer.from([128, 255, 0]))));
    expect(u8.bitsPerSample).toBe(8);
    expect([0, 1, 2].map((i) => u8.pcm.readInt16LE(2 * i))).toEqual([0, 127 << 8, -32768]);
    const s24 = parseWav(riff(chunk('fmt ', fmtBody(1, 1, 8000, 24)), chunk('data', Buffer.from([0xff, 0x34, 0x12, 0x00, 0x00, 0x80]))));
    expect([0, 1].map((i) => s24.pcm.readInt16LE(2 * i))).toEqual([0x1234, -32768]);
    const f = Buffer.alloc(12);
    f.writeFloatLE(0.5, 0);
    f.writeFloatLE(-2, 4);
    f.writeFloatLE(NaN, 8);
    const f32 = parseWav(riff(chunk('fmt ', fmtBody(3, 1, 8000, 32)), chunk('data', f)));
    expect([0, 1, 2].map((i) => f32.pcm.readInt16LE(2 * i))).toEqual([16384, -32768, 0]);
  });

  it('reads a truncated data chunk up to the end of the buffer', () => {
    const wav = encodeWav(pcm);
    const parsed = parseWav(wav.subarray(0, 44 + 1001));
    expect(parsed.pcm.equals(pcm.subarray(0, 1000))).toBe(true);
  });

  it.each<[string, Buffer]>([
    ['too short', Buffer.from('RIFF')],
    ['not RIFF', Buffer.concat([Buffer.from('RIFX'), encodeWav(pcm).subarray(4)])],
    ['not WAVE', Buffer.concat([encodeWav(pcm).subarray(0, 8), Buffer.from('AVI '), encodeWav(pcm).subarray(12)])],
    ['no fmt', riff(chunk('data', pcm))],
    ['no data', riff(chunk('fmt ', fmtBody(1, 2, 48000, 16)))],
    ['short fmt', riff(chunk('fmt ', Buffer.alloc(8)), chunk('data', pcm))],
    ['0 channels', riff(chunk('fmt ', fmtBody(1, 0, 48000, 16)), chunk('data', pcm))],
    ['0 Hz', riff(chunk('fmt ', fmtBody(1, 2, 0, 16)), chunk('data', pcm))],
    ['unsupported format', riff(chunk('fmt ', fmtBody(2, 2, 48000, 16)), chunk('data', pcm))],
    ['12-bit', riff(chunk('fmt ', fmtBody(1, 2, 48000, 12)), chunk('data', pcm))],
    ['bad block align', riff(chunk('fmt ', Buffer.concat([fmtBody(1, 2, 48000, 16).subarray(0, 12), Buffer.from([3, 0, 16, 0])])), chunk('data', pcm))],
    ['overrunning chunk', encodeWav(pcm).subarray(0, 30)],
    ['truncated chunk header', Buffer.concat([riff(chunk('fmt ', fmtBody(1, 2, 48000, 16))), Buffer.from('dat')])],
  ])('rejects %s with WAV_MALFORMED', (_name, bytes) => {
    expectRxVoiceError(() => parseWav(bytes), 'WAV_MALFORMED');
  });

  function parsesOrRejects(bytes: Uint8Array): boolean {
    const e = thrownBy(() => parseWav(bytes));
    return e === undefined || (e instanceof RxVoiceError && e.code === 'WAV_MALFORMED');
  }

  it('fuzz: arbitrary bytes either parse or throw WAV_MALFORMED', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 128 }), parsesOrRejects), { numRuns: 300 });
  });

  it('fuzz: corrupted and truncated WAV files either parse or throw WAV_MALFORMED', () => {
    const valid = riff(chunk('LIST', Buffer.alloc(5, 1)), chunk('fmt ', fmtBody(1, 2, 48000, 16)), chunk('data', pcm.subarray(0, 64)));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
        fc.nat({ max: valid.length }),
        (edits, cut) => {
          const bytes = Buffer.from(valid);
          for (const [at, value] of edits) bytes[at] = value;
          return parsesOrRejects(bytes.subarray(0, cut));
        },
      ),
      { numRuns: 500 },
    );
  });
});
