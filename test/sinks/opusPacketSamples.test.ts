import { OpusEncoder } from '@discordjs/opus';
import { OPUS_SILENCE_FRAME } from '../../src/core/audioFormat';
import { opusPacketSamples } from '../../src/core/opusPacketSamples';
import { RxVoiceError } from '../../src/errors';

/** A packet with TOC `config` and `code` (and, for code 3, frame count `m`). */
function packet(config: number, code: number, m = 1): Buffer {
  const toc = (config << 3) | code;
  return code === 3 ? Buffer.from([toc, m, 0, 0]) : Buffer.from([toc, 0, 0]);
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof RxVoiceError ? e.code : 'not an RxVoiceError';
  }
  return undefined;
}

describe('opusPacketSamples', () => {
  test('frame sizes of every config (RFC 6716 Table 2), one frame', () => {
    const ms = [10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 40, 60, 10, 20, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20, 2.5, 5, 10, 20];
    for (let config = 0; config < 32; config++) {
      expect(opusPacketSamples(packet(config, 0))).toBe(ms[config] * 48);
      // The stereo bit does not change the duration.
      expect(opusPacketSamples(Buffer.from([(config << 3) | 0x04 | 0]))).toBe(ms[config] * 48);
    }
  });

  test('frame counts: codes 1 and 2 hold two frames, code 3 holds M', () => {
    expect(opusPacketSamples(packet(31, 1))).toBe(1920);
    expect(opusPacketSamples(packet(31, 2))).toBe(1920);
    expect(opusPacketSamples(packet(31, 3, 6))).toBe(5760); // 6 × 20 ms = 120 ms
    expect(opusPacketSamples(packet(16, 3, 48))).toBe(5760); // 48 × 2.5 ms
    expect(opusPacketSamples(packet(16, 3, 0x80 | 0x40 | 3))).toBe(360); // VBR and padding bits ignored
  });

  test('the Discord silence frame is 20 ms', () => {
    expect(opusPacketSamples(OPUS_SILENCE_FRAME)).toBe(960);
  });

  test('agrees with libopus for every frame size it encodes', () => {
    const encoder = new OpusEncoder(48000, 2);
    for (const samples of [120, 240, 480, 960, 1920, 2880]) {
      const pcm = Buffer.alloc(samples * 4);
      for (let i = 0; i < samples; i++) pcm.writeInt16LE(Math.round(8000 * Math.sin(i / 7)), i * 4);
      expect(opusPacketSamples(encoder.encode(pcm))).toBe(samples);
    }
  });

  test('malformed packets are OPUS_MALFORMED', () => {
    expect(codeOf(() => opusPacketSamples(Buffer.alloc(0)))).toBe('OPUS_MALFORMED');
    expect(codeOf(() => opusPacketSamples(Buffer.from([(31 << 3) | 3])))).toBe('OPUS_MALFORMED'); // no count byte
    expect(codeOf(() => opusPacketSamples(packet(31, 3, 0)))).toBe('OPUS_MALFORMED'); // M = 0
    expect(codeOf(() => opusPacketSamples(packet(31, 3, 7)))).toBe('OPUS_MALFORMED'); // 140 ms
    expect(codeOf(() => opusPacketSamples(packet(3, 3, 3)))).toBe('OPUS_MALFORMED'); // 3 × 60 ms
  });
});
