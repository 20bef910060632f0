import type { Readable } from 'node:stream';
import { opus } from 'prism-media';
import type { Observable } from 'rxjs';
import type { OpusPacket } from '../core/audioFormat';
import { demuxedOpus } from './internal/demuxedOpus';

/**
 * The Opus packets of a WebM (or Matroska) file with an Opus audio track — e.g. YouTube's
 * `webm/opus` format or a browser `MediaRecorder` recording — passed through unchanged:
 * no decode, no re-encode, no ffmpeg. Each emission is one `Buffer` holding one Opus
 * packet (normally 20 ms; other sizes are counted by the duration in their TOC byte).
 * Only `SimpleBlock`s of the first audio track are read (prism-media's demuxer skips
 * `BlockGroup`s — ffmpeg writes the final, end-trimmed packet as one, so such files lose
 * their last ≤ 20 ms). Mono files pass through as they are (Discord expects stereo;
 * `audioSource` transcodes such files).
 *
 * **Demand.** Inside a sink's `withDemand` it emits at most `leadMs` of packets ahead of
 * the consumer and pauses the input meanwhile. Seek requests are ignored (use
 * `audioSource` or `ffmpegSource` to seek).
 *
 * Completes at the end of the input. Errors with `AudioSourceError` `SOURCE_CORRUPT` when
 * the input is not WebM/EBML, its audio codec is not Opus, or it holds no Opus track, and
 * `SOURCE_FAILED` when it cannot be read. A `Readable` input is owned by the source
 * (destroyed on unsubscribe; subscribe once); a path is reopened per subscription.
 *
 * @param input a file path, or a `Readable` of the WebM bytes.
 *
 * @example
 * webmOpusSource(fs.createReadStream('recording.webm')).subscribe((packet) => console.log(packet.length));
 */
export function webmOpusSource(input: string | Readable): Observable<OpusPacket> {
  return demuxedOpus(input, () => new opus.WebmDemuxer(), 'WebM');
}
