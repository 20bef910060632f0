import { OpusEncoder } from '@discordjs/opus';
import { Observable, type OperatorFunction } from 'rxjs';
import { CHANNELS, PCM_FRAME_BYTES, SAMPLE_RATE, type OpusPacket, type PcmFrame } from '../core/audioFormat';
import { isOpusGap, type JitterItem } from '../core/JitterItem';
import { RxVoiceError } from '../errors';
import { describeValue } from './internal/describeValue';
import { allocInt16, readInt16, toLittleEndian } from './internal/pcm16';

/**
 * An Opus decoder for {@link opusDecode}: one instance per subscription, created by
 * {@link OpusDecodeOptions.createDecoder}. Output is s16le 48 kHz stereo PCM.
 */
export interface OpusDecoderBackend {
  /**
   * Decodes one packet (any Opus duration). Throws on a corrupt packet. libopus
   * semantics: a packet of just a TOC byte (no frame data) runs packet-loss concealment
   * for the duration the TOC declares.
   */
  decode(packet: OpusPacket): Buffer;
  /**
   * Rebuilds the slot *before* `next` from `next`'s in-band FEC data (libopus
   * `opus_decode(…, decode_fec = 1)` with a 20 ms `frame_size`); falls back to PLC inside
   * libopus when `next` carries no FEC. Optional: `@discordjs/opus` does not expose it.
   */
  decodeFec?(next: OpusPacket): Buffer;
}

/** Counters of one {@link opusDecode} subscription, cumulative. */
export interface OpusDecodeStats {
  /** Packets decoded normally. */
  readonly decoded: number;
  /** Gap items received. */
  readonly gaps: number;
  /** Gaps rebuilt from the next packet's in-band FEC. */
  readonly fecRecovered: number;
  /** Packets the decoder rejected (each replaced by concealment). */
  readonly corrupt: number;
  /** Frames produced by packet-loss concealment (gaps without FEC, and corrupt packets). */
  readonly concealed: number;
}

/** Options of {@link opusDecode}. */
export interface OpusDecodeOptions {
  /**
   * Called synchronously after each input item is handled (before its frames are
   * emitted), with this subscription's cumulative counts (a fresh object each time).
   */
  onStats?: (stats: OpusDecodeStats) => void;
  /** Decoder factory, called once per subscription. Default: libopus via `@discordjs/opus`. */
  createDecoder?: () => OpusDecoderBackend;
}

/** The default backend: `@discordjs/opus` (decode only; no FEC entry point). */
function discordjsOpusDecoder(): OpusDecoderBackend {
  const opus = new OpusEncoder(SAMPLE_RATE, CHANNELS);
  return { decode: (packet) => opus.decode(packet) };
}

/**
 * A TOC-only packet (code 0, no frame data) declaring a 20 ms frame with the same mode,
 * bandwidth and channel count as `toc`. libopus treats a frame of ≤ 1 byte as lost and
 * conceals exactly the duration the TOC declares (opus_decoder.c, `opus_decode_frame`:
 * "Payloads of 1 (2 including ToC) or 0 trigger the PLC/DTX"), whereas an empty buffer
 * would conceal the whole output buffer (120 ms with @discordjs/opus).
 */
function plcPacket(toc: number): Buffer {
  const config = toc >> 3;
  // Configs 0‥11: SILK 10/20/40/60 ms; 12‥15: hybrid 10/20 ms; 16‥31: CELT 2.5/5/10/20 ms.
  const config20 = config < 12 ? (config & ~3) | 1 : config < 16 ? config | 1 : config | 3;
  return Buffer.from([(config20 << 3) | (toc & 0x04)]);
}

/**
 * Decodes a jitter buffer's output — one item per 20 ms, an Opus packet or an
 * {@link OpusGap} — to 20 ms PCM frames (s16le 48 kHz stereo, 3840 bytes).
 *
 * Emits, synchronously per input item:
 * - for a packet: its decoded audio. A 20 ms packet (what Discord clients send) gives
 *   exactly one frame; a longer packet gives one frame per 20 ms it holds, the last one
 *   zero-padded, a shorter one a zero-padded frame.
 * - for a gap: one concealed frame. With the default backend this is libopus packet-loss
 *   concealment (PLC: the decoder extrapolates the last audio and fades it out over a few
 *   lost frames), run by decoding a TOC-only packet. When the gap carries `next` and the
 *   backend has {@link OpusDecoderBackend.decodeFec}, the slot is rebuilt from `next`'s
 *   in-band FEC instead. `@discordjs/opus` 0.10 always passes `decode_fec = 0` to libopus,
 *   so with the default backend FEC data is not used and gaps are always PLC. Gaps before
 *   the first packet give silence.
 * - for a corrupt packet (the decoder throws) or an empty one: one concealed frame,
 *   counted in {@link OpusDecodeStats.corrupt}. A bad packet never errors the stream.
 *
 * If the backend cannot conceal (its `decode` rejects the TOC-only packet), the last
 * frame is repeated at half the amplitude of the previous one (repeat-and-fade).
 *
 * Completes when the source completes. Errors only with the source's error, or with
 * what `createDecoder` or `onStats` throws.
 *
 * @param options `onStats` (per-item cumulative counters), `createDecoder` (another
 *   Opus backend, e.g. one that supports FEC).
 *
 * @example
 * ```ts
 * speaker.packets$.pipe(jitterBuffer(), opusDecode({ onStats: (s) => lost.next(s.concealed) }), wavFileSink('out.wav'))
 * ```
 */
export function opusDecode(options: OpusDecodeOptions = {}): OperatorFunction<JitterItem, PcmFrame> {
  const { onStats, createDecoder = discordjsOpusDecoder } = options;
  return (source) =>
    new Observable<PcmFrame>((subscriber) => {
      const decoder = createDecoder();
      let decoded = 0;
      let gaps = 0;
      let fecRecovered = 0;
      let corrupt = 0;
      let concealed = 0;
      /** TOC byte of the last packet decoded successfully, or -1 before the first. */
      let lastToc = -1;
      let lastFrame: Buffer | null = null;

      /** One concealed frame for a lost slot. */
      const conceal = (): Buffer => {
        concealed++;
        if (lastToc < 0) return Buffer.alloc(PCM_FRAME_BYTES);
        const pcm = attempt(() => decoder.decode(plcPacket(lastToc)));
        return pcm?.length === PCM_FRAME_BYTES ? pcm : fadeOf(lastFrame);
      };

      const emit = (pcm: Buffer): void => {
        if (pcm.length === PCM_FRAME_BYTES) {
          lastFrame = pcm;
          subscriber.next(pcm);
          return;
        }
        for (let offset = 0; offset < pcm.length && !subscriber.closed; offset += PCM_FRAME_BYTES) {
          let frame = pcm.subarray(offset, offset + PCM_FRAME_BYTES);
          if (frame.length < PCM_FRAME_BYTES) {
            const padded = Buffer.alloc(PCM_FRAME_BYTES);
            frame.copy(padded);
            frame = padded;
          }
          lastFrame = frame;
          subscriber.next(frame);
        }
      };

      return source.subscribe({
        next: (item) => {
          if (!Buffer.isBuffer(item) && (typeof item !== 'object' || item === null || (item as { gap?: unknown }).gap !== true)) {
            // Not an Opus packet (Buffer) nor a jitterBuffer gap: a typed stream error, never a throw out of next.
            subscriber.error(new RxVoiceError('BAD_FRAME', `opusDecode: expected an Opus packet (Buffer) or a jitterBuffer gap, got ${describeValue(item)}`));
            return;
          }
          let pcm: Buffer | null;
          if (isOpusGap(item)) {
            gaps++;
            const { next } = item;
            const decodeFec = decoder.decodeFec?.bind(decoder);
            pcm = next && decodeFec ? attempt(() => decodeFec(next)) : null;
            if (pcm?.length === PCM_FRAME_BYTES) fecRecovered++;
            else pcm = conceal();
          } else {
            // An empty payload holds no audio; libopus would conceal its whole output buffer (120 ms).
            pcm = item.length > 0 ? attempt(() => decoder.decode(item)) : null;
            if (pcm) {
              decoded++;
              lastToc = item[0];
            } else {
              corrupt++;
              pcm = conceal();
            }
          }
          if (onStats) {
            try {
              onStats({ decoded, gaps, fecRecovered, corrupt, concealed });
            } catch (err) {
              subscriber.error(err);
              return;
            }
          }
          emit(pcm);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

/** The result of `decode`, or null when it throws or returns no samples. */
function attempt(decode: () => Buffer): Buffer | null {
  try {
    const pcm = decode();
    return pcm.length > 0 ? pcm : null;
  } catch {
    return null;
  }
}

/** `frame` at half amplitude (silence when there is no frame yet). */
function fadeOf(frame: Buffer | null): Buffer {
  const { buffer, samples } = allocInt16(PCM_FRAME_BYTES);
  if (frame) {
    const input = readInt16(frame);
    const n = Math.min(input.length, samples.length);
    for (let i = 0; i < n; i++) samples[i] = input[i] >> 1;
  }
  return toLittleEndian(buffer);
}
