import type { OpusEncoder } from '@discordjs/opus';
import { Observable, type OperatorFunction } from 'rxjs';
import { PCM_FRAME_BYTES, type OpusPacket, type PcmFrame } from '../core/audioFormat';
import { voiceDriverThreads } from '../driver/configureVoiceDriver';
import { RxVoiceError } from '../errors';
import { encodeOnCodecThread } from './internal/encodeOnCodecThread';
import { badPcmFrame, createOpusEncoder, errorMessage, SIGNALS, type OpusEncoderSettings } from './internal/opusEncoderSettings';
import { frameMediaMs, setFrameMediaMs } from '../core/mediaTime';

/** Options of {@link opusEncode}. */
export interface OpusEncodeOptions {
  /** Target bitrate, bits per second, 500‥512000. Default 64000 (Discord's default channel bitrate). */
  bitrate?: number;
  /** Encoder complexity, integer 0 (fastest) ‥ 10 (best). Default: libopus's default (9). */
  complexity?: number;
  /**
   * In-band forward error correction (LBRR): the encoder adds a low-bitrate copy of the
   * previous frame so a receiver can rebuild a single lost packet. Only takes effect in
   * SILK/hybrid mode (voice-like signal and bitrates), and only when `packetLossPercent`
   * is above 0. Default false.
   */
  fec?: boolean;
  /** Expected packet loss, percent 0‥100; tunes FEC and loss robustness. Default 0. */
  packetLossPercent?: number;
  /** Content hint: `'voice'` favours SILK, `'music'` favours CELT. Default `'auto'`. */
  signal?: 'auto' | 'voice' | 'music';
}

/**
 * Encodes 20 ms PCM frames to Opus packets with libopus (`@discordjs/opus`).
 *
 * Emits one Opus packet (a `Buffer`) per input frame, in order. Each subscription gets its
 * own encoder, so encoder state (prediction, FEC history) never leaks between streams.
 *
 * **Where it encodes.** With driver threads (`configureVoiceDriver({ threads })`,
 * `RXVOICE_THREADS`; default: one per core), each subscription's encoder runs on a codec
 * worker thread (a pool of up to `threads` of them, the subscription on the least loaded
 * one), so the encoding of many streams is spread over the cores and off the main thread.
 * Frames are copied and posted in one message per thread per turn of the event loop; the
 * packets come back a few ms later (at most 50 frames of a stream are in flight: its
 * source is paused beyond) and are emitted asynchronously, in order. Demand crosses the
 * hop: the sink still paces the sources (at most its `leadMs` ahead, frames in flight
 * included), however they are composed (`concat`, `concatMap` over a queue …); a seek drops
 * the frames in flight from the old position. While the threads are still starting (from
 * the TypeScript sources ~1 s, built a few tens of ms) a stream begins on the main thread
 * and moves to a thread once they are up, seamlessly (the thread's encoder is primed with
 * the last frames). An idle pool does not keep the process alive.
 * With `threads: 0` the encoder runs in-process: one packet per frame, synchronously (the
 * `Buffer` libopus returned), as marble tests on a `TestScheduler` need. The setting is read
 * at each subscribe.
 *
 * Input frames are s16le 48 kHz stereo, 3840 bytes (960 samples per channel). A shorter
 * frame (typically the last one of a file) is zero-padded to 3840 bytes; a longer one is
 * an error, because libopus would reject it.
 *
 * Completes when the source completes and every frame's packet has been emitted. Errors
 * (after the packets of the frames before) with the source's error, or with an
 * {@link RxVoiceError}: `BAD_FRAME` for a frame longer than 3840 bytes (the source is
 * unsubscribed at once), `OPUS_ENCODER_FAILED` when libopus rejects the encoder settings or
 * fails to encode, or when the encoder's codec thread dies (then at once: the frames in
 * flight are lost). Unsubscribing frees the encoder, on its thread too.
 *
 * @param options `bitrate` (bps, default 64000), `complexity` (0‥10), `fec`,
 *   `packetLossPercent` (0‥100), `signal` (`'auto'` | `'voice'` | `'music'`).
 * @throws {RxVoiceError} `INVALID_ARGUMENT` synchronously, when an option is out of range.
 *
 * @example
 * ```ts
 * pcm$.pipe(volume(0.8), opusEncode({ bitrate: 96_000, signal: 'music' }))
 * ```
 */
export function opusEncode(options: OpusEncodeOptions = {}): OperatorFunction<PcmFrame, OpusPacket> {
  const { bitrate = 64_000, complexity, fec = false, packetLossPercent = 0, signal = 'auto' } = options;
  checkInteger('bitrate', bitrate, 500, 512_000);
  if (complexity !== undefined) checkInteger('complexity', complexity, 0, 10);
  checkInteger('packetLossPercent', packetLossPercent, 0, 100);
  if (typeof fec !== 'boolean') invalid(`fec must be a boolean, got ${String(fec)}`);
  if (!Object.prototype.hasOwnProperty.call(SIGNALS, signal)) invalid(`signal must be 'auto', 'voice' or 'music', got ${String(signal)}`);

  const settings: OpusEncoderSettings = { bitrate, complexity, fec, packetLossPercent, signal };

  return (source) =>
    new Observable<OpusPacket>((subscriber) => {
      if (voiceDriverThreads() > 0) return encodeOnCodecThread(source, settings, subscriber);
      let encoder: OpusEncoder;
      try {
        encoder = createOpusEncoder(settings);
      } catch (cause) {
        subscriber.error(new RxVoiceError('OPUS_ENCODER_FAILED', `opusEncode: could not set up the encoder: ${errorMessage(cause)}`, { cause }));
        return;
      }
      // Reused for zero-padding short frames: libopus reads the input synchronously.
      let padded: Buffer | null = null;
      return source.subscribe({
        next: (frame) => {
          const bad = badPcmFrame(frame);
          if (bad !== null) {
            subscriber.error(bad);
            return;
          }
          let input = frame;
          if (frame.length !== PCM_FRAME_BYTES) {
            padded ??= Buffer.alloc(PCM_FRAME_BYTES);
            padded.fill(0, frame.copy(padded));
            input = padded;
          }
          let packet: OpusPacket;
          try {
            packet = encoder.encode(input);
          } catch (cause) {
            subscriber.error(new RxVoiceError('OPUS_ENCODER_FAILED', `opusEncode: libopus failed to encode: ${errorMessage(cause)}`, { cause }));
            return;
          }
          setFrameMediaMs(packet, frameMediaMs(frame));
          subscriber.next(packet);
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
    });
}

function checkInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) invalid(`${name} must be an integer in ${min}..${max}, got ${String(value)}`);
}

function invalid(message: string): never {
  throw new RxVoiceError('INVALID_ARGUMENT', `opusEncode: ${message}`);
}
