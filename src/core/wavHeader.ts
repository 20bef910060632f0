import { RxVoiceError } from '../errors';

/** Bytes in the canonical RIFF/WAVE header that {@link wavHeader} builds. */
export const WAV_HEADER_BYTES = 44;

/** The largest `data` chunk a RIFF file can describe: its 32-bit RIFF size counts 36 header bytes too. */
export const WAV_MAX_DATA_BYTES = 0xffffffff - (WAV_HEADER_BYTES - 8);

const WAVE_FORMAT_PCM = 1;

/**
 * The canonical 44-byte RIFF/WAVE header for 16-bit integer PCM: `RIFF` size, `WAVE`,
 * a 16-byte `fmt ` chunk (format 1, `channels`, `sampleRate`, byte rate, block align
 * `channels × 2`, 16 bits per sample), then the `data` chunk header declaring
 * `dataBytes`. The samples follow it directly.
 *
 * Shared by `encodeWav` (whole file in memory) and `wavFileSink` (writes this header with
 * `dataBytes = 0` first and rewrites it in place when the recording ends).
 *
 * @param dataBytes length of the PCM that follows, bytes (0…{@link WAV_MAX_DATA_BYTES}).
 * @param sampleRate samples per second per channel, Hz (a positive integer < 2³²).
 * @param channels interleaved channels (1…65535).
 * @returns a new 44-byte `Buffer`.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` when a value does not fit its header field.
 *
 * @example
 * ```ts
 * const file = Buffer.concat([wavHeader(pcm.length, 48000, 2), pcm]);
 * ```
 */
export function wavHeader(dataBytes: number, sampleRate: number, channels: number): Buffer {
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > WAV_MAX_DATA_BYTES) {
    throw new RxVoiceError('INVALID_ARGUMENT', `wavHeader: ${dataBytes} bytes of PCM do not fit a RIFF file`);
  }
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `wavHeader: sampleRate ${sampleRate} does not fit a WAV header`);
  }
  if (!Number.isInteger(channels) || channels < 1 || channels > 0xffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `wavHeader: channels ${channels} does not fit a WAV header`);
  }
  const blockAlign = channels * 2;
  const out = Buffer.alloc(WAV_HEADER_BYTES);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(WAV_HEADER_BYTES - 8 + dataBytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  out.writeUInt16LE(channels, 22);
  out.writeUInt32LE(sampleRate, 24);
  // Byte rate wraps for absurd rates × channels; players derive it from the other fields.
  out.writeUInt32LE((sampleRate * blockAlign) % 0x1_0000_0000, 28);
  out.writeUInt16LE(blockAlign, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(dataBytes, 40);
  return out;
}
