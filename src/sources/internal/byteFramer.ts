import type { Framer } from './Framer';

/**
 * A {@link Framer} for byte streams: fixed `frameBytes` frames, each a fresh `Buffer`
 * (safe to mutate, 8-byte aligned); at the end a partial frame is zero-padded to full size.
 *
 * Chunks are queued as they come and copied once, into the frame that reads them (no
 * concatenation of leftovers, no zero-filling of frames that are then overwritten): this runs
 * for every 20 ms of every ffmpeg stream.
 */
export function byteFramer(frameBytes: number, frameMs: number): Framer<Buffer> {
  const chunks: Uint8Array[] = [];
  /** Bytes of `chunks[0]` already read. */
  let head = 0;
  /** Unread bytes in `chunks`. */
  let queued = 0;
  let ended = false;
  return {
    write(chunk) {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError(`expected a byte stream, got a chunk of type ${typeof chunk}`);
      }
      if (chunk.byteLength === 0) return;
      chunks.push(chunk);
      queued += chunk.byteLength;
    },
    end() {
      ended = true;
    },
    available() {
      return queued >= frameBytes || (ended && queued > 0);
    },
    read() {
      // allocUnsafe: from Node's pool (8-byte aligned offsets) and every byte is written below.
      const frame = Buffer.allocUnsafe(frameBytes);
      let filled = 0;
      while (filled < frameBytes && chunks.length > 0) {
        const c = chunks[0];
        const take = Math.min(frameBytes - filled, c.byteLength - head);
        frame.set(c.subarray(head, head + take), filled);
        filled += take;
        head += take;
        if (head === c.byteLength) {
          chunks.shift();
          head = 0;
        }
      }
      queued -= filled;
      if (filled < frameBytes) frame.fill(0, filled);
      return frame;
    },
    durationMs() {
      return frameMs;
    },
  };
}
