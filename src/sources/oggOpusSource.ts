import type { Readable } from 'node:stream';
import type { Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import { demuxedOggOpus } from './internal/demuxedOpus';

/**
 * The Opus packets of an Ogg Opus file (`.ogg`, `.opus`), passed through unchanged — no
 * decode, no re-encode, no ffmpeg. Each emission is one `Buffer` holding one Opus packet
 * (normally 20 ms; other sizes are counted by the duration in their TOC byte). Only the
 * first logical Opus stream is read; the OpusHead/OpusTags headers are not emitted, and
 * pre-skip and end trimming are not applied. Mono or multichannel files pass through
 * as they are (Discord expects stereo; `audioSource` transcodes such files).
 *
 * **Demand.** Inside a sink's `withDemand` it emits at most `leadMs` of packets ahead of
 * the consumer and pauses the input meanwhile. Seek requests are ignored (use
 * `audioSource` or `ffmpegSource` to seek).
 *
 * Completes at the end of the input. Errors with `AudioSourceError` `SOURCE_CORRUPT` when
 * the input is not Ogg or holds no Opus stream, and `SOURCE_FAILED` when it cannot be
 * read (e.g. a missing file). A `Readable` input is owned by the source (destroyed on
 * unsubscribe; subscribe once); a path is reopened per subscription.
 *
 * @param input a file path, or a `Readable` of the Ogg bytes.
 *
 * @example
 * oggOpusSource('voice.opus').subscribe((packet) => console.log(packet.length)); // ~100–300 bytes per 20 ms
 */
export function oggOpusSource(input: string | Readable): Observable<OpusPacket> {
  return demuxedOggOpus(input);
}
