import { randomBytes } from 'node:crypto';
import type { OperatorFunction } from 'rxjs';
import { RxVoiceError } from '../errors';
import type { OpusPacket } from '../core/audioFormat';
import { opusPacketSamples } from '../core/opusPacketSamples';
import { runFileSink, type FileSinkFormat } from './internal/fileSink';
import { OGG_MAX_SEGMENTS, OggPageWriter, oggSegmentCount } from './internal/oggPageWriter';

/** Options of {@link oggOpusFileSink}. */
export interface OggOpusFileSinkOptions {
  /** Channels the decoder should output (1 or 2; channel mapping family 0). Default 2. */
  channels?: number;
  /**
   * Samples (at 48 kHz) a player discards from the start — the encoder's lookahead
   * (RFC 7845 §4.2). Default 312, libopus's lookahead at 48 kHz. 0…65535.
   */
  preSkip?: number;
  /** Vendor string of the OpusTags header. Default `'rxvoice'`. */
  vendor?: string;
  /** Ogg stream serial number (unsigned 32-bit). Default: random for each file. */
  serial?: number;
}

/** What {@link oggOpusFileSink} emits once the file is complete and closed. */
export interface OggFileResult {
  /** The path written, as given. */
  path: string;
  /** Size of the file, bytes (headers, page overhead and packets). */
  bytes: number;
  /** Opus packets written. */
  packets: number;
  /**
   * Playable duration, ms: the packets' total length at 48 kHz minus `preSkip`
   * (`(finalGranulePosition − preSkip) / 48`, not below 0, not rounded).
   */
  durationMs: number;
}

/** Pages are cut before they would hold more than 1 s of audio (RFC 7845 §6 recommends ≤ 1 s). */
const MAX_PAGE_SAMPLES = 48_000;

function opusHead(channels: number, preSkip: number): Buffer {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1; // version
  head[9] = channels;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(48_000, 12); // input sample rate (informational)
  head.writeInt16LE(0, 16); // output gain, Q7.8 dB
  head[18] = 0; // channel mapping family 0: mono or stereo, no mapping table
  return head;
}

function opusTags(vendor: string): Buffer {
  const vendorBytes = Buffer.from(vendor, 'utf8');
  const tags = Buffer.alloc(8 + 4 + vendorBytes.length + 4);
  tags.write('OpusTags', 0, 'latin1');
  tags.writeUInt32LE(vendorBytes.length, 8);
  vendorBytes.copy(tags, 12);
  tags.writeUInt32LE(0, 12 + vendorBytes.length); // no user comments
  return tags;
}

/**
 * Writes Opus packets, as they are (no re-encoding), into an Ogg Opus file (RFC 7845):
 * an `OpusHead` page (BOS), an `OpusTags` page, then audio pages of up to 1 s (or 255
 * lacing values) each, with 48 kHz granule positions computed from each packet's TOC
 * byte, consecutive page sequence numbers, the Ogg CRC-32, and the EOS flag on the last
 * page. Audio is buffered one page at a time, so memory stays bounded however long the
 * recording.
 *
 * Backpressure: the sink subscribes upstream inside `withDemand` with its own
 * `SinkDemand` (lead 1000 ms) and advances it by each packet's duration once it is
 * buffered for a page and the file's write stream is below its high-water mark
 * (otherwise on the next `'drain'`).
 *
 * Emits exactly one {@link OggFileResult} — after the upstream completed, the EOS page
 * was written and the file was closed — and then completes.
 *
 * Errors (the pages written so far are kept and end with an EOS page, so the file is
 * playable whenever it could be written at all):
 * - the upstream errors → the file is finalized, then that same error is re-emitted;
 * - a packet whose TOC byte is malformed (empty, or a bad code-3 frame count) →
 *   `RxVoiceError` `OPUS_MALFORMED` from `opusPacketSamples`, after finalizing;
 * - a file-system error → `RxVoiceError` `SINK_FAILED` with the Node error as `cause`;
 *   the upstream is unsubscribed.
 *
 * Unsubscribing before completion unsubscribes the upstream and still finalizes the file
 * (asynchronously; no result is emitted). The file is created (truncated) on subscribe.
 *
 * @param path file to create or overwrite (conventionally `.ogg` or `.opus`).
 * @param options `channels` (1 or 2, default 2), `preSkip` (samples at 48 kHz, default
 *   312), `vendor` (default `'rxvoice'`), `serial` (default random).
 * @returns an operator from Opus packets (one `Buffer` each, any duration 2.5–120 ms) to
 *   one result.
 * @throws {RxVoiceError} `INVALID_ARGUMENT`, synchronously, on `channels` other than 1
 *   or 2, `preSkip` outside 0…65535, or `serial` outside 0…2³²−1.
 *
 * @example
 * ```ts
 * tone$.pipe(
 *   opusEncode(),
 *   oggOpusFileSink('tone.ogg'),
 * ).subscribe(({ durationMs, bytes }) => console.log(`${durationMs} ms in ${bytes} bytes`));
 * ```
 */
export function oggOpusFileSink(path: string, options: OggOpusFileSinkOptions = {}): OperatorFunction<OpusPacket, OggFileResult> {
  const { channels = 2, preSkip = 312, vendor = 'rxvoice', serial } = options;
  if (channels !== 1 && channels !== 2) {
    throw new RxVoiceError('INVALID_ARGUMENT', `oggOpusFileSink: channels must be 1 or 2, got ${channels}`);
  }
  if (!Number.isInteger(preSkip) || preSkip < 0 || preSkip > 0xffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `oggOpusFileSink: preSkip must be an integer in 0…65535, got ${preSkip}`);
  }
  if (serial !== undefined && (!Number.isInteger(serial) || serial < 0 || serial > 0xffffffff)) {
    throw new RxVoiceError('INVALID_ARGUMENT', `oggOpusFileSink: serial must be an integer in 0…4294967295, got ${serial}`);
  }
  const head = opusHead(channels, preSkip);
  const tags = opusTags(vendor);

  return (source) =>
    runFileSink(source, path, (): FileSinkFormat<OpusPacket, OggFileResult> => {
      // Per subscription: each subscriber writes (and overwrites) the file on its own.
      const writer = new OggPageWriter(serial ?? randomBytes(4).readUInt32LE(0));
      let tagsPending = true;
      let granule = 0;
      let pageSamples = 0;
      let packets = 0;
      const pages = (...list: ReadonlyArray<Buffer | null>): Buffer[] => list.filter((p): p is Buffer => p !== null);
      return {
        name: 'oggOpusFileSink',
        header: () => {
          // OpusHead alone on the BOS page; OpusTags waits so that, with no audio at all,
          // its page can carry EOS. Either way it ends its page (RFC 7845 §3).
          const first = [...writer.write(head, 0), writer.flush()];
          writer.write(tags, 0);
          return pages(...first);
        },
        accept: (packet) => {
          const samples = opusPacketSamples(packet);
          const out: Buffer[] = [];
          if (tagsPending) {
            tagsPending = false;
            out.push(...pages(writer.flush()));
          } else if (
            pageSamples + samples > MAX_PAGE_SAMPLES ||
            writer.pendingSegments + oggSegmentCount(packet.length) > OGG_MAX_SEGMENTS
          ) {
            out.push(...pages(writer.flush()));
            pageSamples = 0;
          }
          granule += samples;
          pageSamples += samples;
          packets++;
          out.push(...writer.write(packet, granule));
          return { chunks: out, ms: samples / 48 };
        },
        trailer: () => pages(writer.flush(true)),
        patches: () => [],
        result: (fileBytes) => ({ path, bytes: fileBytes, packets, durationMs: Math.max(0, granule - preSkip) / 48 }),
      };
    });
}
