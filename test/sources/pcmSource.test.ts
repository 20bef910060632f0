import { PassThrough, Readable } from 'node:stream';
import { SinkDemand } from '../../src/core/FrameDemand';
import { RxVoiceError } from '../../src/errors';
import { AudioSourceError, pcmSource } from '../../src/sources';
import { dominantFrequency, generateTone } from '../../src/testing/audio';
import { collect, sleep, subscribeLive, waitFor } from './helpers';

/** `buffer` in chunks of `size` bytes (not frame-aligned on purpose). */
function chunked(buffer: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) chunks.push(buffer.subarray(i, i + size));
  return Readable.from(chunks);
}

test('48 kHz stereo: exact 3840-byte frames, bit-exact, last frame zero-padded', async () => {
  const pcm = generateTone({ frequency: 440, durationMs: 1010 });
  const { values, completed } = await collect(pcmSource(chunked(pcm, 1001)));
  expect(completed).toBe(true);
  expect(values).toHaveLength(51);
  expect(values.every((f) => f.length === 3840)).toBe(true);
  const all = Buffer.concat(values);
  expect(all.subarray(0, pcm.length).equals(pcm)).toBe(true);
  expect(all.subarray(pcm.length).every((b) => b === 0)).toBe(true);
  expect(Math.abs(dominantFrequency(all) - 440)).toBeLessThanOrEqual(2);
});

test('frames are independent buffers (mutating one does not touch the next)', async () => {
  const pcm = generateTone({ frequency: 440, durationMs: 100 });
  const { values } = await collect(pcmSource(Readable.from([pcm])));
  values[0].fill(0);
  expect(Buffer.concat(values.slice(1)).equals(pcm.subarray(3840))).toBe(true);
});

test('16 kHz mono: 640-byte frames at the input format', async () => {
  const pcm = generateTone({ frequency: 300, durationMs: 1000, sampleRate: 16000, channels: 1 });
  const { values } = await collect(pcmSource(chunked(pcm, 777), { sampleRate: 16000, channels: 1 }));
  expect(values).toHaveLength(50);
  expect(values.every((f) => f.length === 640)).toBe(true);
  expect(Math.abs(dominantFrequency(Buffer.concat(values), { sampleRate: 16000, channels: 1 }) - 300)).toBeLessThanOrEqual(2);
});

test('44.1 kHz stereo: 3528-byte frames', async () => {
  const pcm = generateTone({ frequency: 440, durationMs: 200, sampleRate: 44100 });
  const { values } = await collect(pcmSource(Readable.from([pcm]), { sampleRate: 44100 }));
  expect(values.map((f) => f.length)).toEqual(new Array(10).fill(3528));
});

test('a never-consumed 200 ms lead gets exactly 10 frames and pauses the stream', async () => {
  const input = new PassThrough();
  input.end(generateTone({ frequency: 440, durationMs: 5000 }));
  const demand = new SinkDemand(200);
  const live = subscribeLive(pcmSource(input), demand);
  expect(await waitFor(() => live.values.length >= 10)).toBe(true);
  await sleep(100);
  expect(live.values).toHaveLength(10);
  expect(input.isPaused()).toBe(true);
  demand.consume(60);
  expect(live.values).toHaveLength(13); // buffered frames flow synchronously on changes$
  live.drain();
  expect(await waitFor(() => live.completed)).toBe(true);
  expect(live.values).toHaveLength(250);
});

test('a stream error → AudioSourceError SOURCE_FAILED', async () => {
  const input = new PassThrough();
  const result = collect(pcmSource(input));
  input.write(Buffer.alloc(5000));
  input.destroy(new Error('disk on fire'));
  const { error, values } = await result;
  expect(values).toHaveLength(1);
  expect(error).toBeInstanceOf(AudioSourceError);
  expect((error as AudioSourceError).code).toBe('SOURCE_FAILED');
  expect((error as Error).message).toMatch(/disk on fire/);
});

test('non-byte chunks → SOURCE_FAILED', async () => {
  const { error } = await collect(pcmSource(Readable.from([{ not: 'bytes' }])));
  expect((error as AudioSourceError).code).toBe('SOURCE_FAILED');
});

test('an ended or destroyed stream → SOURCE_FAILED', async () => {
  const input = Readable.from([]);
  input.destroy();
  const { error } = await collect(pcmSource(input));
  expect((error as AudioSourceError).code).toBe('SOURCE_FAILED');
});

test('unsubscribing destroys the stream', async () => {
  const input = new PassThrough();
  input.write(Buffer.alloc(3840 * 3));
  const live = subscribeLive(pcmSource(input));
  expect(await waitFor(() => live.values.length === 3)).toBe(true);
  live.subscription.unsubscribe();
  expect(input.destroyed).toBe(true);
});

test('bad options throw INVALID_ARGUMENT at call time', () => {
  const input = new PassThrough();
  expect(() => pcmSource(input, { sampleRate: 11025 })).toThrow(RxVoiceError);
  expect(() => pcmSource(input, { sampleRate: 0 })).toThrow(/sampleRate/);
  expect(() => pcmSource(input, { channels: 0 })).toThrow(/channels/);
});
