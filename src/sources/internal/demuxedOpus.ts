import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Observable } from 'rxjs';
import type { OpusPacket } from '../../core/audioFormat';
import { AudioSourceError } from '../AudioSourceError';
import type { Framer } from './Framer';
import { gatedStream } from './gatedStream';
import { oggOpusFramer } from './oggOpusFramer';
import { opusPacketDurationMs } from './opusPacketDurationMs';
import { webmOpusFramer } from './webmOpusFramer';

const noop = (): void => {};

/** Bytes per file read: ~2.7 s at 96 kb/s (the default 64 KiB holds ~5 s per stream). */
const READ_BYTES = 32 * 1024;

/** A framer that cuts the Opus packets out of a container's raw bytes. */
type OpusFramer = Framer<Buffer> & { readonly sawHead: boolean };

/**
 * The Opus packets of an Ogg or WebM stream, honouring the current demand with each packet's
 * TOC duration, for `oggOpusSource` and `webmOpusSource` (see their docs). Both containers
 * are parsed in place by a framer ({@link oggOpusFramer}, {@link webmOpusFramer}): no
 * Transform stream per source.
 */

/** The Opus packets of a WebM/Matroska stream (see `webmOpusSource`). */
export function demuxedWebmOpus(input: string | Readable): Observable<OpusPacket> {
  return demuxed(input, () => webmOpusFramer(opusPacketDurationMs), 'WebM');
}

/** The Opus packets of an Ogg stream (see `oggOpusSource`). */
export function demuxedOggOpus(input: string | Readable): Observable<OpusPacket> {
  return demuxed(input, () => oggOpusFramer(opusPacketDurationMs), 'Ogg');
}

function demuxed(input: string | Readable, createFramer: () => OpusFramer, container: 'Ogg' | 'WebM'): Observable<OpusPacket> {
  return new Observable<OpusPacket>((subscriber) => {
    let stream: Readable;
    if (typeof input === 'string') {
      stream = createReadStream(input, { highWaterMark: READ_BYTES });
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

    const framer = createFramer();

    const packets = gatedStream(stream, framer, {
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
        if (framer.sawHead) subscriber.complete();
        else subscriber.error(new AudioSourceError('SOURCE_CORRUPT', `no Opus stream found in the ${container} input`));
      },
    });

    return () => {
      packets.unsubscribe();
      stream.off('error', onInputError);
      stream.on('error', noop);
      stream.destroy();
    };
  });
}
