import { createReadStream } from 'node:fs';
import type { Readable, Transform } from 'node:stream';
import { Observable } from 'rxjs';
import type { OpusPacket } from '../../core/audioFormat';
import { currentDemand } from '../../core/FrameDemand';
import { AudioSourceError } from '../AudioSourceError';
import { gatedStream } from './gatedStream';
import { opusPacketDurationMs } from './opusPacketDurationMs';
import { packetFramer } from './packetFramer';

const noop = (): void => {};

/**
 * Opus packets of an Ogg or WebM stream, demuxed by a prism-media demuxer (`'head'` event
 * on the OpusHead, object-mode packets out), honouring the current demand with each
 * packet's TOC duration. Shared by `oggOpusSource` and `webmOpusSource`; see their docs.
 */
export function demuxedOpus(
  input: string | Readable,
  createDemuxer: () => Transform,
  container: 'Ogg' | 'WebM',
): Observable<OpusPacket> {
  return new Observable<OpusPacket>((subscriber) => {
    const demand = currentDemand();
    let stream: Readable;
    if (typeof input === 'string') {
      stream = createReadStream(input);
    } else if (input.readableEnded || input.destroyed) {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', `the ${container} stream has already ended or been destroyed`));
      return;
    } else {
      stream = input;
    }
    const demuxer = createDemuxer();
    let sawHead = false;
    const onHead = (): void => {
      sawHead = true;
    };
    const onInputError = (err: Error): void => {
      subscriber.error(new AudioSourceError('SOURCE_FAILED', `could not read the ${container} input: ${err.message}`, { cause: err }));
    };
    demuxer.once('head', onHead);
    stream.on('error', onInputError);
    stream.pipe(demuxer);

    const packets = gatedStream(demuxer, packetFramer(opusPacketDurationMs), {
      demand,
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
        if (sawHead) subscriber.complete();
        else subscriber.error(new AudioSourceError('SOURCE_CORRUPT', `no Opus stream found in the ${container} input`));
      },
    });

    return () => {
      packets.unsubscribe();
      stream.unpipe(demuxer);
      stream.off('error', onInputError);
      demuxer.off('head', onHead);
      stream.on('error', noop);
      demuxer.on('error', noop);
      stream.destroy();
      demuxer.destroy();
    };
  });
}
