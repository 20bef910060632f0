import { TestScheduler } from 'rxjs/testing';
import { PCM_FRAME_BYTES } from '../../src/core/audioFormat';

// jest compares Buffers element by element (~20 ms per 3840-byte frame); compare bytes
// directly. (`addEqualityTesters` exists since jest 29.4; @types/jest 29.5 lacks it.)
type Tester = (a: unknown, b: unknown) => boolean | undefined;
(expect as unknown as { addEqualityTesters(testers: Tester[]): void }).addEqualityTesters([
  (a, b) => (Buffer.isBuffer(a) && Buffer.isBuffer(b) ? a.equals(b) : undefined),
]);

/** A TestScheduler comparing with jest's deep equality (Buffers compare by content). */
export const newScheduler = (): TestScheduler => new TestScheduler((actual, expected) => expect(actual).toEqual(expected));

/** A frame of `bytes` bytes whose every s16le sample is `value`. */
export function constFrame(value: number, bytes = PCM_FRAME_BYTES): Buffer {
  const frame = Buffer.alloc(bytes);
  for (let offset = 0; offset + 1 < bytes; offset += 2) frame.writeInt16LE(value, offset);
  return frame;
}

/** Cuts PCM into `bytes`-byte frames, zero-padding the last. */
export function toFrames(pcm: Buffer, bytes = PCM_FRAME_BYTES): Buffer[] {
  const frames: Buffer[] = [];
  for (let offset = 0; offset < pcm.length; offset += bytes) {
    const frame = Buffer.alloc(bytes);
    pcm.copy(frame, 0, offset, offset + bytes);
    frames.push(frame);
  }
  return frames;
}

/** s16le samples of `pcm` as a plain array. */
export function samplesOf(pcm: Buffer): number[] {
  const out: number[] = [];
  for (let offset = 0; offset + 1 < pcm.length; offset += 2) out.push(pcm.readInt16LE(offset));
  return out;
}

/** Peak absolute sample value. */
export function peak(pcm: Buffer): number {
  let max = 0;
  for (let offset = 0; offset + 1 < pcm.length; offset += 2) max = Math.max(max, Math.abs(pcm.readInt16LE(offset)));
  return max;
}
