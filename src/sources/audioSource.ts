import { OpusEncoder } from '@discordjs/opus';
import { defer, map, Observable, type Subscription } from 'rxjs';
import { CHANNELS, SAMPLE_RATE, type OpusPacket } from '../core/audioFormat';
import { DemandGate, withDemand } from '../core/FrameDemand';
import { frameMediaMs, setFrameMediaMs } from '../core/mediaTime';
import { RxVoiceError } from '../errors';
import { ffmpegSource, type FfmpegSourceOptions } from './ffmpegSource';
import { oggOpusSource } from './oggOpusSource';
import { probeOpusContainer } from './internal/probeOpusContainer';
import { webmOpusSource } from './webmOpusSource';

/** Options of {@link audioSource}. */
export interface AudioSourceOptions extends FfmpegSourceOptions {
  /** Opus bitrate when transcoding, bits/s (500–512000). Default 64000 (Discord's default channel bitrate). */
  bitrate?: number;
  /** Always transcode, even Ogg/WebM Opus stereo files. Default false. */
  transcode?: boolean;
}

/**
 * The one-call source: any audio file or URL as 20 ms Opus packets ready for a voice sink.
 *
 * **Always `Observable<OpusPacket>`**, by the cheapest path:
 * - **passthrough** — a local Ogg Opus or WebM/Matroska Opus file with a stereo OpusHead
 *   (Opus always runs at 48 kHz) is demuxed with `oggOpusSource`/`webmOpusSource`: no
 *   decode, no re-encode, no ffmpeg needed. The container is recognised from the file's
 *   first 64 KiB (magic bytes + OpusHead), not its extension.
 * - **transcode** — anything else (mp3, wav, flac, mono Opus, URLs, …), or when `seekMs`,
 *   `filters`, `args` or `transcode: true` is given: `ffmpegSource` decodes to PCM and each
 *   frame is encoded with `@discordjs/opus` (48 kHz stereo, `bitrate`).
 *
 * **Demand.** Both paths honour the sink's demand (`leadMs` ahead, input paused
 * meanwhile), however the source is composed (see `FrameDemand`). **Seek.** `demand.seek$` restarts ffmpeg at the new position; on the
 * passthrough path the first seek switches to transcoding from that position (so it needs
 * ffmpeg).
 *
 * Completes when the input is exhausted. Errors with `AudioSourceError` (`SOURCE_FAILED`
 * on an unreadable, missing or corrupt input — with ffmpeg's last stderr lines —,
 * `SOURCE_CORRUPT` on a malformed Opus container) and `FfmpegNotFoundError` when
 * transcoding is needed and there is no ffmpeg. Unsubscribing stops reading and kills ffmpeg.
 *
 * @param input a file path or a URL ffmpeg understands.
 * @param options `ffmpegSource` options (`seekMs`, `filters`, `args`, `ffmpegPath`) plus
 *   `bitrate` (bits/s) and `transcode`.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` (at call time) on a bad `seekMs` or `bitrate`.
 *
 * @example
 * // An mp3 is transcoded, an .opus file passes through; both give Opus packets.
 * audioSource('song.mp3').subscribe((packet) => console.log(packet.length));
 */
export function audioSource(input: string, options: AudioSourceOptions = {}): Observable<OpusPacket> {
  const { bitrate = 64_000, transcode = false, ...ffmpegOptions } = options;
  if (!Number.isInteger(bitrate) || bitrate < 500 || bitrate > 512_000) {
    throw new RxVoiceError('INVALID_ARGUMENT', `audioSource: bitrate must be an integer in 500..512000 (bits/s), got ${bitrate}`);
  }
  const transcoded = (seekMs: number | undefined): Observable<OpusPacket> => {
    const frames = ffmpegSource(input, { ...ffmpegOptions, seekMs }); // validates `seekMs`
    return defer(() => {
      const encoder = new OpusEncoder(SAMPLE_RATE, CHANNELS);
      encoder.setBitrate(bitrate);
      return frames.pipe(
        map((frame) => {
          const packet = encoder.encode(frame);
          setFrameMediaMs(packet, frameMediaMs(frame)); // positions stay on the input's timeline after a seek
          return packet;
        }),
      );
    });
  };
  const transcodedFromStart = transcoded(ffmpegOptions.seekMs);
  const mustTranscode =
    transcode || (ffmpegOptions.seekMs ?? 0) > 0 || Boolean(ffmpegOptions.filters) || (ffmpegOptions.args?.length ?? 0) > 0;

  return new Observable<OpusPacket>((subscriber) => {
    const gate = new DemandGate(subscriber);
    let inner: Subscription | undefined;
    let seeks: Subscription | undefined;
    const forward = (source: Observable<OpusPacket>): Subscription =>
      withDemand(gate, () =>
        source.subscribe({
          next: (packet) => gate.emit(subscriber, packet),
          error: (err: unknown) => subscriber.error(err),
          complete: () => subscriber.complete(),
        }),
      );

    // A seek that arrives while the input is being probed is kept and applied once it is.
    let earlySeekMs: number | null = null;
    seeks = gate.seek$.subscribe((positionMs) => {
      earlySeekMs = Number.isFinite(positionMs) ? Math.max(0, positionMs) : 0;
    });
    const probe = mustTranscode ? Promise.resolve(null) : probeOpusContainer(input);
    probe
      .then((info) => {
        if (subscriber.closed) return;
        seeks?.unsubscribe();
        if (info === null || info.channels !== CHANNELS) {
          inner = forward(earlySeekMs !== null ? transcoded(earlySeekMs) : transcodedFromStart);
          return;
        }
        if (earlySeekMs !== null) {
          inner = forward(transcoded(earlySeekMs));
          return;
        }
        // Passthrough until the first seek, which switches to transcoding (ffmpegSource
        // handles later seeks itself; a Subject does not deliver the current seek to an
        // observer added during its delivery).
        seeks = gate.seek$.subscribe((positionMs) => {
          seeks?.unsubscribe();
          inner?.unsubscribe();
          inner = forward(transcoded(Number.isFinite(positionMs) ? Math.max(0, positionMs) : 0));
        });
        inner = forward(info.container === 'ogg' ? oggOpusSource(input) : webmOpusSource(input));
      })
      .catch((err: unknown) => subscriber.error(err));

    return () => {
      seeks?.unsubscribe();
      inner?.unsubscribe();
    };
  });
}
