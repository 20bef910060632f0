import type { Framer } from './Framer';

/**
 * A {@link Framer} for byte streams: fixed `frameBytes` frames, each a fresh `Buffer`
 * (safe to mutate, 8-byte aligned); at the end a partial frame is zero-padded to full size.
 */
export function byteFramer(frameBytes: number, frameMs: number): Framer<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let offset = 0;
  let ended = false;
  return {
    write(chunk) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`expected a byte stream, got a chunk of type ${typeof chunk}`);
      }
      const rest = pending.subarray(offset);
      pending = rest.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([rest, chunk]);
      offset = 0;
    },
    end() {
      ended = true;
    },
    available() {
      const left = pending.length - offset;
      return left >= frameBytes || (ended && left > 0);
    },
    read() {
      const frame = Buffer.alloc(frameBytes);
      pending.copy(frame, 0, offset, Math.min(offset + frameBytes, pending.length));
      offset = Math.min(offset + frameBytes, pending.length);
      return frame;
    },
    durationMs() {
      return frameMs;
    },
  };
}
