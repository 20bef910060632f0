import { createReadStream } from 'node:fs';
import type { Readable, Transform } from 'node:stream';
import { Observable } from 'rxjs';
import type { OpusPacket } from '../../core/audioFormat';
import { AudioSourceError } from '../AudioSourceError';
import type { Framer } from './Framer';
import { gatedStream } from './gatedStream';
import { oggOpusFramer } from './oggOpusFramer';
import { opusPacketDurationMs } from './opusPacketDurationMs';
import { packetFramer } from './packetFramer';

const noop = (): void => {};

/** Bytes per file read for Ogg input: ~2.7 s at 96 kb/s (the default 64 KiB holds ~5 s per stream). */
const OGG_READ_BYTES = 32 * 1024;

/** How a container is demuxed: a prism-media demuxer stream, or a framer on the raw bytes. */
type Demux =
  | { readonly transform: () => Transform }
  | { readonly framer: () => Framer<Buffer> & { readonly sawHead: boolean } };

/**
 * Opus packets of an Ogg or WebM stream, honouring the current demand with each packet's
 * TOC duration. Shared by `oggOpusSource` and `webmOpusSource`; see their docs. WebM goes
 * through a prism-media demuxer (`'head'` event on the OpusHead, object-mode packets out);
 * Ogg is parsed in place by {@link oggOpusFramer} (no Transform stream per source).
 */
export function demuxedOpus(input: string | Readable, createDemuxer: () => Transform, container: 'Ogg' | 'WebM'): Observable<OpusPacket> {
  return demuxed(input, { transform: createDemuxer }, container);
}

/** The Opus packets of an Ogg stream (see `oggOpusSource`). */
export function demuxedOggOpus(input: string | Readable): Observable<OpusPacket> {
  return demuxed(input, { framer: () => oggOpusFramer(opusPacketDurationMs) }, 'Ogg');
}

function demuxed(input: string | Readable, demux: Demux, container: 'Ogg' | 'WebM'): Observable<OpusPacket> {
  return new Observable<OpusPacket>((subscriber) => {
    let stream: Readable;
    if (typeof input === 'string') {
      stream = createReadStream(input, 'framer' in demux ? { highWaterMark: OGG_READ_BYTES } : undefined);
    } else if (input.readableEnded || input.destroyed) {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', `the ${container} stream has already ended or been destroyed`));
      return;
    } else {
      stream = input;
    }
    const onInputError = (err: Error): void => {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', `could not read the ${container} input: ${err.message}`, { cause: err }));
    };
    stream.on('error', onInputError);

    let packetSource: Readable;
    let framer: Framer<Buffer>;
    let sawHead: () => boolean;
    let demuxer: Transform | null = null;
    let onHead = noop;
    if ('framer' in demux) {
      const f = demux.framer();
      framer = f;
      sawHead = () => f.sawHead;
      packetSource = stream;
    } else {
      let head = false;
      onHead = () => {
        head = true;
      };
      sawHead = () => head;
      demuxer = demux.transform();
      demuxer.once('head', onHead);
      stream.pipe(demuxer);
      framer = packetFramer(opusPacketDurationMs);
      packetSource = demuxer;
    }

    const packets = gatedStream(packetSource, framer, {
      mapError: (err) =>
        new AudioSourceError(
          'SOURCE_CORRUPT',
          `not a valid ${container} Opus stream: ${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        ),
    }).subscribe({
      next: (packet) => subscriber.next(packet),
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        if (sawHead()) subscriber.complete();
        else subscriber.error(new AudioSourceError('SOURCE_CORRUPT', `no Opus stream found in the ${container} input`));
      },
    });

    return () => {
      packets.unsubscribe();
      stream.off('error', onInputError);
      stream.on('error', noop);
      if (demuxer) {
        stream.unpipe(demuxer);
        demuxer.off('head', onHead);
        demuxer.on('error', noop);
        demuxer.destroy();
      }
      stream.destroy();
    };
  });
}
