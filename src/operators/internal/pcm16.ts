import { endianness } from 'node:os';

/**
 * Internal helpers of the PCM operators (`volume`, `mix`, `resample`): fast `Int16Array`
 * access to s16le `Buffer`s. Not re-exported.
 */

/** Whether the platform is little-endian, i.e. an `Int16Array` reads s16le directly. */
const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * Native-order int16 samples of s16le `pcm` (whole samples only; an odd trailing byte is
 * ignored). A view without copying when `pcm` is 2-byte aligned on a little-endian
 * platform (the usual case); otherwise an aligned, byte-swapped-if-needed copy.
 */
export function readInt16(pcm: Uint8Array): Int16Array {
  const samples = pcm.byteLength >> 1;
  if (LITTLE_ENDIAN && (pcm.byteOffset & 1) === 0) return new Int16Array(pcm.buffer, pcm.byteOffset, samples);
  const copy = Buffer.alloc(samples * 2);
  copy.set(pcm.subarray(0, samples * 2));
  if (!LITTLE_ENDIAN) copy.swap16();
  return new Int16Array(copy.buffer, copy.byteOffset, samples);
}

/**
 * A new zero-filled `Buffer` of `bytes` bytes (even) and a native-order `Int16Array` over
 * it. Call {@link toLittleEndian} after writing the samples.
 */
export function allocInt16(bytes: number): { buffer: Buffer; samples: Int16Array } {
  const buffer = Buffer.alloc(bytes);
  return { buffer, samples: new Int16Array(buffer.buffer, buffer.byteOffset, bytes >> 1) };
}

/** Makes a buffer written through {@link allocInt16} s16le (a no-op on little-endian platforms). */
export function toLittleEndian(buffer: Buffer): Buffer {
  if (!LITTLE_ENDIAN) buffer.swap16();
  return buffer;
}

/**
 * As {@link allocInt16}, but the `Buffer` comes from Node's shared pool and is not zeroed
 * (cheaper per frame): the caller must write every byte.
 */
export function allocInt16Uninitialized(bytes: number): { buffer: Buffer; samples: Int16Array } {
  const buffer = Buffer.allocUnsafe(bytes);
  if (buffer.byteOffset & 1) return allocInt16(bytes);
  return { buffer, samples: new Int16Array(buffer.buffer, buffer.byteOffset, bytes >> 1) };
}
