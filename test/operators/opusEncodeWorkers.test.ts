/**
 * `opusEncode` with codec threads (`configureVoiceDriver({ threads: 2 })`): encoders run on
 * worker threads, packets come back asynchronously, in order; completion, errors,
 * unsubscription and a dying thread behave; demand still paces the sources; threads 0 stays
 * synchronous.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { OpusEncoder } from '@discordjs/opus';
import { concat, concatMap, defer, from, interval, lastValueFrom, map, Observable, Subject, take, tap, throwError, toArray, type Subscription } from 'rxjs';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';
import { DemandGate, SinkDemand, withDemand } from '../../src/core/FrameDemand';
import { configureVoiceDriver, voiceDriverThreads } from '../../src/driver/configureVoiceDriver';
import { codecPool } from '../../src/driver/internal/CodecPool';
import { RxVoiceError } from '../../src/errors';
import { opusDecode } from '../../src/operators/opusDecode';
import { opusEncode } from '../../src/operators/opusEncode';
import { toneSource } from '../../src/sources/toneSource';
import { dominantFrequency, generateTone } from '../../src/testing/audio';
import { toFrames } from './audioOperatorFixtures';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

/** What a fresh in-process encoder makes of `frames`. */
function reference(frames: Buffer[]): Buffer[] {
  const encoder = new OpusEncoder(48_000, 2);
  encoder.setBitrate(64_000);
  return frames.map((frame) => Buffer.from(encoder.encode(frame)));
}

/** A 200 → 2000 Hz sweep: every frame differs, so order is visible in the packets. */
const sweepFrames = (n: number): Buffer[] => {
  const pcm = Buffer.alloc(n * PCM_FRAME_BYTES);
  for (let i = 0; i < n * 960; i++) {
    const t = i / 48_000;
    const v = Math.round(12_000 * Math.sin(2 * Math.PI * (200 * t + 300 * t * t)));
    pcm.writeInt16LE(v, i * 4);
    pcm.writeInt16LE(v, i * 4 + 2);
  }
  return toFrames(pcm);
};

let savedThreads: number;
beforeAll(async () => {
  savedThreads = voiceDriverThreads();
  configureVoiceDriver({ threads: 2 });
  // Start both threads once (from the TypeScript sources each takes ~1 s to load ts-node).
  await Promise.all([0, 1].map(() => lastValueFrom(from(sweepFrames(2)).pipe(opusEncode(), toArray()))));
}, 30_000);
afterAll(() => configureVoiceDriver({ threads: savedThreads }));

afterEach(async () => {
  // Every test leaves no encoder behind, on the main thread or on the codec threads.
  await waitFor(() => codecPool().stats().encoders === 0);
  expect((await codecPool().encodersOnThreads()).every((n) => n === 0)).toBe(true);
});

describe('opusEncode on codec threads', () => {
  it('encodes a tone that decodes to the same frequency', async () => {
    const frames = toFrames(generateTone({ frequency: 440, durationMs: 1000, amplitude: 0.5 }));
    const decoded = await lastValueFrom(from(frames).pipe(opusEncode(), opusDecode(), toArray()));
    expect(decoded).toHaveLength(50);
    expect(Math.abs(dominantFrequency(Buffer.concat(decoded)) - 440)).toBeLessThan(2);
  });

  it('emits every packet, in order, asynchronously, and completes only after the last one', async () => {
    const frames = sweepFrames(150);
    const values: Buffer[] = [];
    let completedAt = -1;
    let sourceCompleted = false;
    const done = new Promise<void>((resolve) =>
      from(frames)
        .pipe(
          tap({ complete: () => (sourceCompleted = true) }),
          opusEncode(),
        )
        .subscribe({
          next: (p) => values.push(p),
          complete: () => {
            completedAt = values.length;
            resolve();
          },
        }),
    );
    expect(sourceCompleted).toBe(true); // `from` completed synchronously …
    expect(values).toHaveLength(0); // … but every frame is still on its way
    expect(codecPool().stats().inFlightFrames).toBeGreaterThan(0);
    await done;
    expect(completedAt).toBe(150);
    expect(values).toEqual(reference(frames)); // same encoder state, same order: same bytes
    // In flight per stream is bounded: the rest waited on the main thread.
    expect(codecPool().stats().inFlightFrames).toBe(0);
  });

  it('zero-pads a short last frame', async () => {
    const frames = sweepFrames(3);
    const short = frames[2].subarray(0, 1000);
    const padded = Buffer.alloc(PCM_FRAME_BYTES);
    short.copy(padded);
    const packets = await lastValueFrom(from([frames[0], frames[1], short]).pipe(opusEncode(), toArray()));
    expect(packets).toEqual(reference([frames[0], frames[1], padded]));
  });

  it('copies frames: a source may reuse its buffer after next() returns', async () => {
    const frames = sweepFrames(20);
    const reused = Buffer.alloc(PCM_FRAME_BYTES);
    const source = new Observable<Buffer>((s) => {
      for (const f of frames) {
        f.copy(reused);
        s.next(reused);
      }
      s.complete();
    });
    expect(await lastValueFrom(source.pipe(opusEncode(), toArray()))).toEqual(reference(frames));
  });

  it('errors with BAD_FRAME (typed) after the packets before the bad frame, and unsubscribes the source', async () => {
    const frames = sweepFrames(3);
    let unsubscribed = false;
    const source = new Observable<Buffer>((s) => {
      s.next(frames[0]);
      s.next(frames[1]);
      s.next(Buffer.alloc(PCM_FRAME_BYTES + 4));
      s.next(frames[2]);
      return () => (unsubscribed = true);
    });
    const values: Buffer[] = [];
    const error = await new Promise<unknown>((resolve) => source.pipe(opusEncode()).subscribe({ next: (p) => values.push(p), error: resolve }));
    expect(error).toBeInstanceOf(RxVoiceError);
    expect((error as RxVoiceError).code).toBe('BAD_FRAME');
    expect(values).toEqual(reference(frames.slice(0, 2)));
    expect(unsubscribed).toBe(true);
  });

  it('passes the source error through after the packets before it', async () => {
    const frames = sweepFrames(5);
    const values: Buffer[] = [];
    const boom = new Error('boom');
    const error = await new Promise<unknown>((resolve) =>
      concat(from(frames), throwError(() => boom))
        .pipe(opusEncode())
        .subscribe({ next: (p) => values.push(p), error: resolve }),
    );
    expect(error).toBe(boom);
    expect(values).toHaveLength(5);
  });

  it('errors with OPUS_ENCODER_FAILED when the thread cannot set up the encoder', async () => {
    // Settings validated by opusEncode() cannot fail in libopus; post an invalid one directly.
    const failed = await new Promise<RxVoiceError>((resolve) => {
      const encoder = codecPool().open({ bitrate: -5, fec: false, packetLossPercent: 0, signal: 'auto' }, { packets: () => undefined, failed: resolve });
      encoder.encode([new ArrayBuffer(PCM_FRAME_BYTES)]);
    });
    expect(failed.code).toBe('OPUS_ENCODER_FAILED');
  });

  it('unsubscribing mid-stream frees the encoder on its thread', async () => {
    const values: Buffer[] = [];
    const sub = toneSource({ frequency: 440, durationMs: 60_000 })
      .pipe(opusEncode())
      .subscribe((p) => values.push(p));
    await waitFor(() => values.length >= 20);
    expect(codecPool().stats().encoders).toBe(1);
    expect((await codecPool().encodersOnThreads()).reduce((a, b) => a + b, 0)).toBe(1);
    sub.unsubscribe();
    expect(codecPool().stats()).toMatchObject({ encoders: 0, inFlightFrames: 0 });
    const n = values.length;
    await sleep(50);
    expect(values.length).toBe(n); // nothing after unsubscribe
    // (afterEach checks the threads hold no encoder.)
  });

  it('spreads streams over the threads', async () => {
    const subs = [0, 1, 2, 3].map(() => toneSource({ frequency: 440, durationMs: 60_000 }).pipe(opusEncode()).subscribe());
    const counts = await codecPool().encodersOnThreads();
    expect(counts).toEqual([2, 2]);
    subs.forEach((s) => s.unsubscribe());
  });

  it('a codec thread that dies errors its streams with OPUS_ENCODER_FAILED (no hang), and new streams get a new thread', async () => {
    const values: Buffer[] = [];
    const error = new Promise<unknown>((resolve) =>
      toneSource({ frequency: 440, durationMs: 60_000 })
        .pipe(opusEncode())
        .subscribe({ next: (p) => values.push(p), error: resolve }),
    );
    await waitFor(() => values.length >= 10);
    await codecPool().terminate();
    const err = await error;
    expect(err).toBeInstanceOf(RxVoiceError);
    expect((err as RxVoiceError).code).toBe('OPUS_ENCODER_FAILED');
    expect((err as Error).message).toMatch(/codec thread/);
    expect(codecPool().stats().threads).toBe(0);
    const packets = await lastValueFrom(from(sweepFrames(10)).pipe(opusEncode(), toArray()));
    expect(packets).toHaveLength(10);
  }, 30_000);
});

test('while the threads start, a stream begins on the main thread and moves to a thread seamlessly', async () => {
  await codecPool().terminate(); // a cold pool: the next stream starts the threads (~1 s from sources)
  const frames = toFrames(generateTone({ frequency: 440, durationMs: 3000, amplitude: 0.5 }));
  const values: Buffer[] = [];
  let onThreadAt = -1;
  const done = lastValueFrom(
    interval(20).pipe(
      take(frames.length),
      map((i) => frames[i]),
      opusEncode(),
      tap((p) => {
        values.push(p);
        if (onThreadAt < 0 && codecPool().stats().encoders === 1) onThreadAt = values.length;
      }),
    ),
  );
  await done;
  expect(values).toHaveLength(150);
  expect(onThreadAt).toBeGreaterThan(1); // began on the main thread …
  expect(onThreadAt).toBeLessThan(150); // … and moved
  // The main thread's packets are those of an encoder from the start.
  const ref = reference(frames);
  expect(values.slice(0, onThreadAt - 1)).toEqual(ref.slice(0, onThreadAt - 1));
  // Decoded, the level stays steady across the switch (no click, no gap).
  const decoder = new OpusEncoder(48_000, 2);
  const levels = values.map((p) => {
    const pcm = decoder.decode(p);
    let sum = 0;
    for (let i = 0; i < pcm.length; i += 2) sum += pcm.readInt16LE(i) ** 2;
    return Math.sqrt(sum / (pcm.length / 2));
  });
  const steady = levels[10];
  for (const level of levels.slice(10)) expect(Math.abs(level - steady) / steady).toBeLessThan(0.05);
  expect(Math.abs(dominantFrequency(Buffer.concat(values.map((p) => decoder.decode(p)))) - 440)).toBeLessThan(2);
}, 30_000);

describe('demand across the codec thread', () => {
  const LEAD_FRAMES = 10;

  function consume(source: Observable<Buffer>): { demand: SinkDemand; received: () => number; paced: () => boolean; sub: Subscription } {
    const demand = new SinkDemand(LEAD_FRAMES * 20);
    let received = 0;
    let paced = true;
    const sub = withDemand(demand, () =>
      source.subscribe(() => {
        paced = demand.received() && paced;
        received++;
      }),
    );
    return { demand, received: () => received, paced: () => paced, sub };
  }

  const counted = (counter: { n: number }, durationMs = 10_000) => toneSource({ frequency: 440, durationMs }).pipe(tap(() => counter.n++));

  const cases: Array<[string, (c: { n: number }) => Observable<Buffer>]> = [
    ['subscribed synchronously', (c) => counted(c).pipe(opusEncode())],
    ['concat: the second input', (c) => concat(toneSource({ frequency: 220, durationMs: 100 }), counted(c)).pipe(opusEncode())],
    [
      'concatMap over a queue Subject fed later',
      (c) =>
        defer(() => {
          const queue$ = new Subject<number>();
          setTimeout(() => queue$.next(1), 5);
          return queue$.pipe(
            concatMap(() => counted(c)),
            opusEncode(),
          );
        }),
    ],
  ];

  test.each(cases)('%s: the source reads at most the lead ahead, and goes on as the consumer takes audio', async (_name, make) => {
    const counter = { n: 0 };
    const { demand, received, paced, sub } = consume(make(counter));
    await waitFor(() => received() >= LEAD_FRAMES - 1);
    await sleep(50);
    expect(demand.bufferedMs).toBeLessThanOrEqual((LEAD_FRAMES + 2) * 20);
    const before = counter.n;
    await sleep(50);
    expect(counter.n).toBe(before); // nothing more while the consumer holds its lead
    for (let i = 0; i < 20; i++) {
      demand.consume(100);
      await sleep(30);
    }
    expect(received()).toBeGreaterThanOrEqual(90);
    expect(demand.bufferedMs).toBeLessThanOrEqual((LEAD_FRAMES + 2) * 20);
    expect(paced()).toBe(true); // the consumer found the source behind every packet
    sub.unsubscribe();
  });

  test('a source without demand stays unpaced for the consumer (voiceSink would warn)', async () => {
    const { received, paced, sub } = consume(from(sweepFrames(30)).pipe(opusEncode()));
    await waitFor(() => received() === 30);
    expect(paced()).toBe(false);
    sub.unsubscribe();
  });

  test('a seek drops the frames in flight from the old position', async () => {
    // A demand-aware source that emits 5 frames per wake-up, and continues from the seek.
    let afterSeek = 0;
    let seeked = false;
    const source = new Observable<Buffer>((subscriber) => {
      const gate = new DemandGate(subscriber);
      const pump = () => {
        for (let k = 0; k < 5 && gate.open && !subscriber.closed; k++) {
          if (seeked) afterSeek++;
          gate.emit(subscriber, Buffer.alloc(PCM_FRAME_BYTES));
        }
      };
      gate.seek$.subscribe(() => (seeked = true));
      gate.changes$.subscribe(() => setTimeout(pump));
      pump();
    });
    // The consumer seeks at the first packet, as a sink does (seek, then drop what it holds):
    // the other 4 frames of the first batch are of the old position.
    const demand = new SinkDemand(LEAD_FRAMES * 20);
    let received = 0;
    const sub = withDemand(demand, () =>
      source.pipe(opusEncode()).subscribe(() => {
        demand.received();
        if (++received === 1) {
          demand.seek(0);
          demand.clear();
        }
      }),
    );
    await waitFor(() => afterSeek > 0);
    await sleep(100);
    expect(received).toBe(1 + afterSeek);
    sub.unsubscribe();
  });
});

test('threads 0: opusEncode stays synchronous, on the main thread', () => {
  configureVoiceDriver({ threads: 0 });
  try {
    const threadsBefore = codecPool().stats().threads;
    const frames = sweepFrames(10);
    const values: Buffer[] = [];
    let completed = false;
    from(frames)
      .pipe(opusEncode())
      .subscribe({ next: (p) => values.push(p), complete: () => (completed = true) });
    expect(completed).toBe(true);
    expect(values).toEqual(reference(frames));
    expect(codecPool().stats()).toEqual({ threads: threadsBefore, encoders: 0, inFlightFrames: 0 });
  } finally {
    configureVoiceDriver({ threads: 2 });
  }
});

test('an idle codec pool does not hold the process open', () => {
  // A child process with a live, idle opusEncode subscription (a Subject that never
  // completes) after some frames were encoded on a codec thread: it exits by itself.
  const script = `
    const { Subject, from, concat } = require('rxjs');
    const { configureVoiceDriver } = require('./src/driver/configureVoiceDriver');
    const { opusEncode } = require('./src/operators/opusEncode');
    configureVoiceDriver({ threads: 1 });
    let n = 0;
    concat(from([Buffer.alloc(3840), Buffer.alloc(3840)]), new Subject()).pipe(opusEncode()).subscribe(() => {
      if (++n === 2) console.log('encoded');
    });
  `;
  const result = spawnSync(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), '-e', script], {
    cwd: join(__dirname, '..', '..'),
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(result.stderr).toBe('');
  expect(result.stdout.trim()).toBe('encoded');
  expect(result.status).toBe(0);
}, 30_000);

test('process.exit() while codec threads encode exits cleanly (no abort from libopus torn down mid-frame)', () => {
  // Terminating a thread inside @discordjs/opus's encode() aborts the whole process
  // (SIGABRT, "napi_throw" fatal error); the pool parks its threads at exit first.
  const script = `
    const { configureVoiceDriver } = require('./src/driver/configureVoiceDriver');
    const { opusEncode } = require('./src/operators/opusEncode');
    const { toneSource } = require('./src/sources/toneSource');
    const { codecPool } = require('./src/driver/internal/CodecPool');
    configureVoiceDriver({ threads: 2 });
    let n = 0;
    // Once the threads are up (before, streams begin on the main thread), 8 streams that
    // keep them busy; exit at a random moment.
    const start = () => {
      if (!codecPool().ready) return setTimeout(start, 10);
      for (let i = 0; i < 8; i++) toneSource({ frequency: 440, durationMs: 600000 }).pipe(opusEncode()).subscribe(() => n++);
      setTimeout(exit, 100);
    };
    const exit = () => (n > 3000 ? process.exit(0) : setTimeout(exit, 5 + Math.random() * 10));
    start();
  `;
  for (let run = 0; run < 3; run++) {
    const result = spawnSync(process.execPath, ['-r', require.resolve('ts-node/register/transpile-only'), '-e', script], {
      cwd: join(__dirname, '..', '..'),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect({ status: result.status, signal: result.signal, stderr: result.stderr }).toEqual({ status: 0, signal: null, stderr: '' });
  }
}, 60_000);
