import { readFileSync, statSync } from 'node:fs';
import { concat, from, Observable, Subject, throwError } from 'rxjs';
import { RxVoiceError } from '../../src/errors';
import { wavFileSink } from '../../src/sinks';
import { dominantFrequency, encodeWav, generateTone, parseWav } from '../../src/testing/audio';
import { collect, demandAwareSource, errorOf, tempDir, toneFrames, waitFor } from './helpers/sources';

const tmp = tempDir();
afterAll(() => tmp.remove());

/** Whether the header of a finished WAV file states its real sizes. */
function headerIsFinal(path: string): boolean {
  const file = readFileSync(path);
  return file.length >= 44 && file.readUInt32LE(4) === file.length - 8 && file.readUInt32LE(40) === file.length - 44;
}

describe('wavFileSink', () => {
  test('round trip: a 1 s 440 Hz tone is written byte for byte', async () => {
    const path = tmp.file('tone.wav');
    const frames = toneFrames(440, 1000);
    const results = await collect(from(frames).pipe(wavFileSink(path)));
    const pcm = Buffer.concat(frames);
    expect(results).toEqual([{ path, bytes: 44 + pcm.length, frames: 50, durationMs: 1000 }]);
    const file = readFileSync(path);
    expect(file.equals(encodeWav(pcm))).toBe(true); // identical to the in-memory encoder, header included
    const parsed = parseWav(file);
    expect({ ...parsed, pcm: undefined }).toEqual({ pcm: undefined, sampleRate: 48000, channels: 2, bitsPerSample: 16 });
    expect(parsed.pcm.equals(pcm)).toBe(true);
    expect(Math.abs(dominantFrequency(parsed.pcm) - 440)).toBeLessThan(0.5);
  });

  test('writes the header for other formats', async () => {
    const path = tmp.file('mono16k.wav');
    const pcm = generateTone({ frequency: 1000, durationMs: 500, sampleRate: 16000, channels: 1 });
    const halves = [pcm.subarray(0, 8000), pcm.subarray(8000)];
    const [result] = await collect(from(halves).pipe(wavFileSink(path, { sampleRate: 16000, channels: 1 })));
    expect(result).toEqual({ path, bytes: 44 + pcm.length, frames: 2, durationMs: 500 });
    const parsed = parseWav(readFileSync(path));
    expect([parsed.sampleRate, parsed.channels, parsed.bitsPerSample]).toEqual([16000, 1, 16]);
    expect(parsed.pcm.equals(pcm)).toBe(true);
  });

  test('an empty input gives a valid empty WAV file', async () => {
    const path = tmp.file('empty.wav');
    expect(await collect(from([] as Buffer[]).pipe(wavFileSink(path)))).toEqual([{ path, bytes: 44, frames: 0, durationMs: 0 }]);
    expect(parseWav(readFileSync(path)).pcm.length).toBe(0);
    expect(headerIsFinal(path)).toBe(true);
  });

  test('emits only after the upstream completes, from a hot asynchronous source', async () => {
    const path = tmp.file('hot.wav');
    const input = new Subject<Buffer>();
    const seen: unknown[] = [];
    const done = new Promise<void>((resolve) =>
      input.pipe(wavFileSink(path)).subscribe({ next: (r) => seen.push(r), complete: resolve }),
    );
    const frames = toneFrames(220, 200);
    for (const frame of frames) {
      input.next(frame);
      await new Promise((r) => setImmediate(r));
    }
    expect(seen).toEqual([]);
    input.complete();
    await done;
    expect(seen).toEqual([{ path, bytes: 44 + 10 * 3840, frames: 10, durationMs: 200 }]);
    expect(parseWav(readFileSync(path)).pcm.equals(Buffer.concat(frames))).toBe(true);
  });

  test('on upstream error the header is finalized, then the same error is emitted', async () => {
    const path = tmp.file('upstream-error.wav');
    const boom = new Error('boom');
    const frames = toneFrames(440, 100);
    const error = await errorOf(concat(from(frames), throwError(() => boom)).pipe(wavFileSink(path)));
    expect(error).toBe(boom);
    expect(headerIsFinal(path)).toBe(true);
    expect(parseWav(readFileSync(path)).pcm.equals(Buffer.concat(frames))).toBe(true);
  });

  test('unsubscribing closes the file with a valid header', async () => {
    const path = tmp.file('unsubscribed.wav');
    const input = new Subject<Buffer>();
    const frames = toneFrames(440, 100);
    const sub = input.pipe(wavFileSink(path)).subscribe({ error: (e) => fail(e) });
    frames.forEach((f) => input.next(f));
    sub.unsubscribe();
    expect(input.observed).toBe(false);
    await waitFor(() => statSync(path, { throwIfNoEntry: false })?.size === 44 + 5 * 3840 && headerIsFinal(path));
    expect(parseWav(readFileSync(path)).pcm.equals(Buffer.concat(frames))).toBe(true);
  });

  test('a file-system error is a typed SINK_FAILED, and the upstream is unsubscribed', async () => {
    const input = new Subject<Buffer>();
    const error = await errorOf(input.pipe(wavFileSink(tmp.file('no/such/dir/x.wav'))));
    expect(error).toBeInstanceOf(RxVoiceError);
    expect((error as RxVoiceError).code).toBe('SINK_FAILED');
    expect((error as RxVoiceError).message).toMatch(/ENOENT/);
    expect((error as Error & { cause?: { code?: string } }).cause?.code).toBe('ENOENT');
    expect(input.observed).toBe(false);
  });

  test('a file-system error also beats a synchronous completion', async () => {
    const error = await errorOf(from(toneFrames(440, 60)).pipe(wavFileSink(tmp.dir))); // a directory: EISDIR
    expect((error as RxVoiceError).code).toBe('SINK_FAILED');
  });

  test('a frame that is not whole sample frames is INVALID_ARGUMENT, after finalizing', async () => {
    const path = tmp.file('bad-frame.wav');
    const frames = toneFrames(440, 40);
    const error = await errorOf(from([...frames, Buffer.alloc(3)]).pipe(wavFileSink(path)));
    expect((error as RxVoiceError).code).toBe('INVALID_ARGUMENT');
    expect(headerIsFinal(path)).toBe(true);
    expect(parseWav(readFileSync(path)).pcm.equals(Buffer.concat(frames))).toBe(true);
  });

  test('rejects bad options synchronously', () => {
    for (const options of [{ sampleRate: 0 }, { sampleRate: 44100.5 }, { channels: 0 }, { channels: 70000 }]) {
      expect(() => wavFileSink('x.wav', options)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });

  test('each subscription writes its own file state', async () => {
    const path = tmp.file('twice.wav');
    const recording = from(toneFrames(440, 100)).pipe(wavFileSink(path));
    const first = await collect(recording);
    const second = await collect(recording);
    expect(second).toEqual(first);
    expect(headerIsFinal(path)).toBe(true);
  });

  test('3 minutes from a demand-aware source are written with bounded memory', async () => {
    const path = tmp.file('long.wav');
    const total = 9000; // 3 min of 20 ms frames = 34.6 MB
    const frame = toneFrames(440, 20)[0];
    let maxAheadOfDisk = 0;
    const source = demandAwareSource(total, () => frame, {
      onProduce: (produced) => {
        // Frames the source has produced that are not in the file yet: what is in memory.
        const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
        const onDisk = Math.floor(Math.max(0, size - 44) / 3840);
        maxAheadOfDisk = Math.max(maxAheadOfDisk, produced - onDisk);
      },
    });
    const started = Date.now();
    const [result] = await collect(source.pipe(wavFileSink(path)));
    expect(result).toEqual({ path, bytes: 44 + total * 3840, frames: total, durationMs: 180_000 });
    expect(statSync(path).size).toBe(44 + total * 3840);
    expect(headerIsFinal(path)).toBe(true);
    // 1000 ms lead = 50 frames, plus ≤ 4 frames under the write stream's 16 KiB
    // high-water mark (measured: 53). Without backpressure this is ≈ 9000.
    expect(maxAheadOfDisk).toBeGreaterThan(0);
    expect(maxAheadOfDisk).toBeLessThanOrEqual(64);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('a source that ignores demand is still written completely', async () => {
    const path = tmp.file('eager.wav');
    const frames = toneFrames(440, 2000);
    const eager = new Observable<Buffer>((s) => {
      frames.forEach((f) => s.next(f));
      s.complete();
    });
    const [result] = await collect(eager.pipe(wavFileSink(path)));
    expect(result.frames).toBe(100);
    expect(parseWav(readFileSync(path)).pcm.equals(Buffer.concat(frames))).toBe(true);
  });
});
