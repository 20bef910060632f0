import { open } from 'node:fs/promises';
import { oggOpusFramer } from './oggOpusFramer';
import { webmOpusFramer } from './webmOpusFramer';

/** Bytes of the file read when looking for the OpusHead. */
const PROBE_BYTES = 64 * 1024;
const EBML_MAGIC = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);

/** What {@link probeOpusContainer} found. */
export interface OpusContainerInfo {
  container: 'ogg' | 'webm';
  /** Channel count from the OpusHead. */
  channels: number;
}

/**
 * Whether the local file `path` is Ogg Opus or WebM/Matroska Opus, by its magic bytes and
 * the OpusHead our own framers find in the first 64 KiB (the Ogg stream's first packet, or
 * the Opus track's CodecPrivate; channel count at byte 9, RFC 7845 §5.1). Resolves null for
 * anything else, including paths that cannot be opened (URLs, missing files — ffmpeg then
 * reports those) and files too damaged to hold an OpusHead there. Never rejects.
 */
export async function probeOpusContainer(path: string): Promise<OpusContainerInfo | null> {
  let header: Buffer;
  try {
    const file = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(PROBE_BYTES);
      const { bytesRead } = await file.read(buffer, 0, PROBE_BYTES, 0);
      header = buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  } catch {
    return null;
  }
  let container: OpusContainerInfo['container'];
  if (header.subarray(0, 4).toString('latin1') === 'OggS') container = 'ogg';
  else if (header.subarray(0, 4).equals(EBML_MAGIC)) container = 'webm';
  else return null;
  const framer = container === 'ogg' ? oggOpusFramer(() => 20) : webmOpusFramer(() => 20);
  try {
    framer.write(header);
    // Reading packets parses on until the OpusHead (it comes before the first audio packet).
    while (framer.opusHead === null && framer.available()) framer.read();
  } catch {
    return null;
  }
  const head = framer.opusHead;
  return head !== null && head.length >= 10 ? { container, channels: head[9] } : null;
}
