import type { Framer } from './Framer';

/** A {@link Framer} for object-mode streams of `Buffer` packets: passes each packet through unchanged. */
export function packetFramer(durationMs: (packet: Buffer) => number): Framer<Buffer> {
  const queue: Buffer[] = [];
  let head = 0;
  return {
    write(chunk) {
      if (!Buffer.isBuffer(chunk)) throw new TypeError(`expected Buffer packets, got ${typeof chunk}`);
      queue.push(chunk);
    },
    end() {},
    available() {
      return head < queue.length;
    },
    read() {
      const packet = queue[head++];
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      }
      return packet;
    },
    durationMs,
  };
}
