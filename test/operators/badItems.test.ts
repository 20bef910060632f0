import { firstValueFrom, from, materialize, toArray, type Observable } from 'rxjs';
import { BehaviorSubject } from 'rxjs';
import { detectSpeaking, mix, opusDecode, opusEncode, resample, volume } from '../../src';
import { configureVoiceDriver, voiceDriverThreads } from '../../src/driver/configureVoiceDriver';

// Items that are not what an operator takes (plain JavaScript, `as any`) end the stream with a
// typed BAD_FRAME error; nothing is thrown out of the operator's `next` (which RxJS would
// report as an uncaught exception, ending the process).
const notFrames: unknown[] = [null, undefined, 'pcm', 42, { length: 3840 }];

async function outcome(stream: Observable<unknown>): Promise<{ kind: string; code?: unknown }> {
  const notes = await firstValueFrom(stream.pipe(materialize(), toArray()));
  const last = notes[notes.length - 1];
  return last.kind === 'E' ? { kind: 'E', code: (last.error as { code?: unknown }).code } : { kind: last.kind };
}

let uncaught: unknown[] = [];
const onUncaught = (err: unknown): void => void uncaught.push(err);
beforeEach(() => {
  uncaught = [];
  process.on('uncaughtException', onUncaught);
});
afterEach(() => {
  process.off('uncaughtException', onUncaught);
});

test.each(notFrames)('opusDecode, opusEncode (in process and on a codec thread) and resample on %p: BAD_FRAME', async (bad) => {
  const input = () => from([Buffer.alloc(3840), bad as Buffer]);
  expect(await outcome(from([bad as Buffer]).pipe(opusDecode()))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
  expect(await outcome(input().pipe(resample({ from: { sampleRate: 44_100, channels: 2 } })))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
  const saved = voiceDriverThreads();
  for (const threads of [0, 1]) {
    configureVoiceDriver({ threads });
    try {
      expect(await outcome(input().pipe(opusEncode()))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
    } finally {
      configureVoiceDriver({ threads: saved });
    }
  }
  await new Promise((r) => setTimeout(r, 20));
  expect(uncaught).toEqual([]);
});

test.each(notFrames)('volume (a value and an Observable of gains), mix and detectSpeaking on %p: BAD_FRAME', async (bad) => {
  const frames = () => from([Buffer.alloc(3840), bad as Buffer]);
  expect(await outcome(frames().pipe(volume(0.5)))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
  expect(await outcome(frames().pipe(volume(new BehaviorSubject(0.5))))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
  expect(await outcome(mix(frames(), from([Buffer.alloc(3840)])))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
  expect(await outcome(from([bad as never]).pipe(detectSpeaking()))).toEqual({ kind: 'E', code: 'BAD_FRAME' });
  await new Promise((r) => setTimeout(r, 20));
  expect(uncaught).toEqual([]);
});
