import type { Readable } from 'node:stream';
import type { Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import { demuxedWebmOpus } from './internal/demuxedOpus';

/**
 * The Opus packets of a WebM (or Matroska) file with an Opus audio track — e.g. YouTube's
 * `webm/opus` format or a browser `MediaRecorder` recording — passed through unchanged:
 * no decode, no re-encode, no ffmpeg. Each emission is one `Buffer` holding one Opus
 * packet (normally 20 ms; other sizes are counted by the duration in their TOC byte).
 * Every packet of the first Opus track (CodecID `A_OPUS`) is read, in file order, whether
 * stored in a `SimpleBlock` or in a `BlockGroup` (ffmpeg writes end-trimmed packets, and
 * some muxers every packet, as BlockGroups); laced blocks (Xiph, EBML, fixed) are split
 * into their packets. Segments and Clusters of unknown size (live streams, browser
 * recordings) are read. The same stream remuxed to Ogg yields the same packets, byte for
 * byte. Pre-skip and end trimming (CodecDelay, DiscardPadding) are not applied. Mono files
 * pass through as they are (Discord expects stereo; `audioSource` transcodes such files).
 *
 * **Demand.** Inside a sink's `withDemand` it emits at most `leadMs` of packets ahead of
 * the consumer and pauses the input meanwhile. Seek requests are ignored (use
 * `audioSource` or `ffmpegSource` to seek).
 *
 * Completes at the end of the input (an incomplete element at the end of a truncated file
 * is dropped). Errors with `AudioSourceError` `SOURCE_CORRUPT` — after the packets before
 * the fault — when the input is not WebM/EBML, is malformed (invalid EBML sizes, a block
 * or lacing that overruns its element), or holds no Opus track, and `SOURCE_FAILED` when
 * it cannot be read. A `Readable` input is owned by the source
 * (destroyed on unsubscribe; subscribe once); a path is reopened per subscription.
 *
 * @param input a file path, or a `Readable` of the WebM bytes.
 *
 * @example
 * webmOpusSource(fs.createReadStream('recording.webm')).subscribe((packet) => console.log(packet.length));
 */
export function webmOpusSource(input: string | Readable): Observable<OpusPacket> {
  return demuxedWebmOpus(input);
}
