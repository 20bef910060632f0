import { SinkDemand } from '../../src/core/FrameDemand';
import { frameMediaMs } from '../../src/core/mediaTime';
import { RxVoiceError } from '../../src/errors';
import { AudioSourceError, FfmpegNotFoundError, audioSource, oggOpusSource, webmOpusSource } from '../../src/sources';
import { dominantFrequency } from '../../src/testing/audio';
import { collect, decodeOpus, makeFixtures, subscribeLive, waitFor, type Fixtures } from './helpers';

let fx: Fixtures;

beforeAll(() => {
  fx = makeFixtures(['tone.ogg', 'tone.webm', 'tone.mp3', 'mono.ogg', 'twotone.ogg', 'corrupt.mp3']);
});
afterAll(() => fx.remove());

function withoutFfmpeg<T>(run: () => Promise<T>): Promise<T> {
  const saved = process.env.FFMPEG_PATH;
  process.env.FFMPEG_PATH = '/nonexistent/ffmpeg';
  return run().finally(() => {
    if (saved === undefined) delete process.env.FFMPEG_PATH;
    else process.env.FFMPEG_PATH = saved;
  });
}

test.each([
  ['tone.ogg', oggOpusSource],
  ['tone.webm', webmOpusSource],
] as const)('%s (stereo Opus) passes through byte-identical packets, without needing ffmpeg', async (name, demux) => {
  const direct = await collect(demux(fx.path(name)));
  const result = await withoutFfmpeg(() => collect(audioSource(fx.path(name))));
  expect(result.error).toBeUndefined();
  expect(result.completed).toBe(true);
  expect(result.values.length).toBe(direct.values.length);
  expect(result.values.every((p, i) => p.equals(direct.values[i]))).toBe(true);
});

test('mp3 is transcoded: 50 Opus packets carrying 440 Hz', async () => {
  const { values, completed } = await collect(audioSource(fx.path('tone.mp3')));
  expect(completed).toBe(true);
  expect(Math.abs(values.length - 50)).toBeLessThanOrEqual(1);
  expect(Math.abs(dominantFrequency(decodeOpus(values)) - 440)).toBeLessThanOrEqual(2);
});

test('mono Ogg Opus is transcoded to stereo (not passed through)', async () => {
  const direct = await collect(oggOpusSource(fx.path('mono.ogg')));
  const { values } = await collect(audioSource(fx.path('mono.ogg')));
  expect(Math.abs(values.length - 50)).toBeLessThanOrEqual(1);
  expect(values[10].equals(direct.values[10])).toBe(false);
  expect(Math.abs(dominantFrequency(decodeOpus(values)) - 440)).toBeLessThanOrEqual(2);
});

test('filters / transcode: true force transcoding of an Opus file', async () => {
  const direct = await collect(oggOpusSource(fx.path('tone.ogg')));
  const { values } = await collect(audioSource(fx.path('tone.ogg'), { transcode: true, bitrate: 32_000 }));
  expect(Math.abs(values.length - 50)).toBeLessThanOrEqual(1);
  expect(values[10].equals(direct.values[10])).toBe(false);
});

test('honours demand on the passthrough path: 10 packets at a 200 ms lead', async () => {
  const demand = new SinkDemand(200);
  const live = subscribeLive(audioSource(fx.path('tone.ogg')), demand);
  expect(await waitFor(() => live.values.length >= 10)).toBe(true);
  await new Promise((r) => setTimeout(r, 150));
  expect(live.values).toHaveLength(10);
  live.subscription.unsubscribe();
});

test('honours demand on the transcode path: 10 packets at a 200 ms lead', async () => {
  const demand = new SinkDemand(200);
  const live = subscribeLive(audioSource(fx.path('tone.mp3')), demand);
  expect(await waitFor(() => live.values.length >= 10)).toBe(true);
  await new Promise((r) => setTimeout(r, 150));
  expect(live.values).toHaveLength(10);
  live.subscription.unsubscribe();
});

test('a seek on the passthrough path switches to transcoding from that position', async () => {
  const demand = new SinkDemand(200);
  const live = subscribeLive(audioSource(fx.path('twotone.ogg')), demand);
  expect(await waitFor(() => live.values.length >= 10)).toBe(true);
  expect(Math.abs(dominantFrequency(decodeOpus(live.values)) - 440)).toBeLessThanOrEqual(2);
  const before = live.values.length;
  demand.seek(1200);
  live.drain();
  expect(await waitFor(() => live.completed || live.error !== undefined)).toBe(true);
  expect(live.error).toBeUndefined();
  const after = live.values.slice(before);
  expect(Math.abs(after.length - 40)).toBeLessThanOrEqual(1);
  // Positions stay on the file's timeline: the transcoded packets carry their media time.
  expect(after.map((p) => frameMediaMs(p))).toEqual(after.map((_, i) => 1200 + 20 * i));
  // Skip the encoder's first packet (its lookahead ramps in).
  expect(Math.abs(dominantFrequency(decodeOpus(after).subarray(3840)) - 880)).toBeLessThanOrEqual(2);
});

test('seekMs: the transcoded packets carry their position on the input timeline', async () => {
  const { values, error } = await collect(audioSource(fx.path('tone.mp3'), { seekMs: 400 }));
  expect(error).toBeUndefined();
  expect(values.length).toBeGreaterThanOrEqual(28);
  expect(values.slice(0, 28).map((p) => frameMediaMs(p))).toEqual(values.slice(0, 28).map((_, i) => 400 + 20 * i));
});

test('a corrupt file → AudioSourceError SOURCE_FAILED', async () => {
  const { error } = await collect(audioSource(fx.path('corrupt.mp3')));
  expect(error).toBeInstanceOf(AudioSourceError);
  expect((error as AudioSourceError).code).toBe('SOURCE_FAILED');
});

test('a non-Opus file without ffmpeg → FfmpegNotFoundError', async () => {
  const { error } = await withoutFfmpeg(() => collect(audioSource(fx.path('tone.mp3'))));
  expect(error).toBeInstanceOf(FfmpegNotFoundError);
});

test('bad options throw INVALID_ARGUMENT at call time', () => {
  expect(() => audioSource('x.mp3', { bitrate: 10 })).toThrow(RxVoiceError);
  expect(() => audioSource('x.mp3', { seekMs: -5 })).toThrow(/seek/);
});
