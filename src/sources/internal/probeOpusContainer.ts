import { open } from 'node:fs/promises';
import type { Transform } from 'node:stream';
import { opus } from 'prism-media';

/** Bytes of the file handed to the demuxer when looking for the OpusHead. */
const PROBE_BYTES = 64 * 1024;

/** What {@link probeOpusContainer} found. */
export interface OpusContainerInfo {
  container: 'ogg' | 'webm';
  /** Channel count from the OpusHead. */
  channels: number;
}

/**
 * Whether the local file `path` is Ogg Opus or WebM/Matroska Opus, by its magic bytes and
 * the OpusHead the prism demuxer finds in the first 64 KiB (channel count at byte 9 of
 * OpusHead, RFC 7845 §5.1). Resolves null for anything else, including paths that cannot
 * be opened (URLs, missing files — ffmpeg then reports those). Never rejects.
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
  let demuxer: Transform;
  if (header.subarray(0, 4).toString('latin1') === 'OggS') {
    container = 'ogg';
    demuxer = new opus.OggDemuxer();
  } else if (header.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]))) {
    container = 'webm';
    demuxer = new opus.WebmDemuxer();
  } else {
    return null;
  }
  return new Promise<OpusContainerInfo | null>((resolve) => {
    let settled = false;
    const done = (info: OpusContainerInfo | null): void => {
      if (settled) return;
      settled = true;
      demuxer.removeAllListeners();
      demuxer.on('error', () => {});
      demuxer.destroy();
      resolve(info);
    };
    demuxer.on('head', (head: Buffer) => done(head.length >= 10 ? { container, channels: head[9] } : null));
    demuxer.on('error', () => done(null));
    demuxer.on('finish', () => done(null));
    demuxer.resume(); // discard packets so the transform never stalls
    demuxer.end(header);
  });
}
