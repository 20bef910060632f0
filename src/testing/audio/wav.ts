import type { PcmFormat } from './PcmFormat';
import { RxVoiceError } from '../../errors';
import { checkChannels, checkSampleRate } from './internal/pcm';
import { WAV_HEADER_BYTES, wavHeader } from '../../core/wavHeader';

/** Result of {@link parseWav}. */
export interface ParsedWav {
  /** The samples as s16le interleaved PCM (converted if the file is not 16-bit PCM). */
  pcm: Buffer;
  /** Samples per second per channel, Hz, from the `fmt ` chunk. */
  sampleRate: number;
  /** Interleaved channel count, from the `fmt ` chunk. */
  channels: number;
  /** Bits per sample as stored in the file (8, 16, 24 or 32 for PCM; 32 or 64 for float). */
  bitsPerSample: number;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const HEADER_SIZE = WAV_HEADER_BYTES;

// Bound once: a global `Math` lookup per sample is ~20× slower inside jest's vm sandbox.
const { round: mathRound } = Math;
const { isNaN: numberIsNaN } = Number;

/**
 * Wraps s16le interleaved PCM in a canonical 44-byte RIFF/WAVE header (`fmt ` chunk of
 * 16 bytes, format 1 = integer PCM, 16 bits per sample, then one `data` chunk).
 *
 * @param pcm raw PCM, s16le interleaved. A trailing partial frame is dropped so the data
 *   chunk is a whole number of frames.
 * @param format `sampleRate` (Hz, default 48000) and `channels` (default 2).
 * @returns `44 + frames × channels × 2` bytes.
 * @throws {RxVoiceError} `INVALID_ARGUMENT` on a bad sample rate or channel count, or
 *   data too large for a RIFF file (≥ 4 GiB).
 */
export function encodeWav(pcm: Uint8Array, format: PcmFormat = {}): Buffer {
  const { sampleRate = 48000, channels = 2 } = format;
  checkSampleRate(sampleRate, 'encodeWav');
  checkChannels(channels, 'encodeWav');
  if (!Number.isInteger(sampleRate) || sampleRate > 0xffffffff || channels > 0xffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `encodeWav: sampleRate ${sampleRate} / channels ${channels} do not fit a WAV header`);
  }
  const blockAlign = channels * 2;
  const dataLength = pcm.byteLength - (pcm.byteLength % blockAlign);
  if (HEADER_SIZE - 8 + dataLength > 0xffffffff) {
    throw new RxVoiceError('INVALID_ARGUMENT', `encodeWav: ${dataLength} bytes of PCM do not fit a RIFF file`);
  }
  const out = Buffer.alloc(HEADER_SIZE + dataLength);
  wavHeader(dataLength, sampleRate, channels).copy(out, 0);
  out.set(pcm.subarray(0, dataLength), HEADER_SIZE);
  return out;
}

function malformed(message: string): RxVoiceError<'WAV_MALFORMED'> {
  return new RxVoiceError('WAV_MALFORMED', `parseWav: ${message}`);
}

interface FmtChunk {
  format: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

function readFmt(view: DataView, offset: number, size: number): FmtChunk {
  if (size < 16) throw malformed(`fmt chunk of ${size} bytes is shorter than 16`);
  let format = view.getUint16(offset, true);
  const channels = view.getUint16(offset + 2, true);
  const sampleRate = view.getUint32(offset + 4, true);
  const blockAlign = view.getUint16(offset + 12, true);
  const bitsPerSample = view.getUint16(offset + 14, true);
  if (format === WAVE_FORMAT_EXTENSIBLE) {
    // cbSize (2) + validBits (2) + channelMask (4) + SubFormat GUID (16), whose first two
    // bytes are the actual format tag.
    if (size < 40) throw malformed(`WAVE_FORMAT_EXTENSIBLE fmt chunk of ${size} bytes is shorter than 40`);
    format = view.getUint16(offset + 24, true);
  }
  if (channels === 0) throw malformed('fmt chunk declares 0 channels');
  if (sampleRate === 0) throw malformed('fmt chunk declares a sample rate of 0');
  const supported =
    (format === WAVE_FORMAT_PCM && [8, 16, 24, 32].includes(bitsPerSample)) ||
    (format === WAVE_FORMAT_IEEE_FLOAT && (bitsPerSample === 32 || bitsPerSample === 64));
  if (!supported) throw malformed(`unsupported sample format ${format} with ${bitsPerSample} bits per sample`);
  if (blockAlign !== channels * (bitsPerSample / 8)) {
    throw malformed(`block align ${blockAlign} does not match ${channels} channels × ${bitsPerSample} bits`);
  }
  return { format, channels, sampleRate, blockAlign, bitsPerSample };
}

function clampToInt16(v: number): number {
  if (numberIsNaN(v)) return 0;
  const s = mathRound(v * 32768);
  return s > 32767 ? 32767 : s < -32768 ? -32768 : s;
}

function toS16(view: DataView, offset: number, length: number, fmt: FmtChunk): Buffer {
  const bytes = fmt.bitsPerSample / 8;
  const samples = length / bytes;
  const out = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) {
    const at = offset + i * bytes;
    let s: number;
    if (fmt.format === WAVE_FORMAT_IEEE_FLOAT) {
      s = clampToInt16(bytes === 4 ? view.getFloat32(at, true) : view.getFloat64(at, true));
    } else if (bytes === 1) {
      s = (view.getUint8(at) - 128) << 8;
    } else if (bytes === 2) {
      s = view.getInt16(at, true);
    } else if (bytes === 3) {
      s = view.getInt16(at + 1, true);
    } else {
      s = view.getInt32(at, true) >> 16;
    }
    out.writeInt16LE(s, 2 * i);
  }
  return out;
}

/**
 * Reads a RIFF/WAVE file. Chunks are walked in order (honouring the RIFF word-alignment
 * pad byte) and any other than `fmt ` and `data` (`LIST`, `fact`, `bext`, …) are skipped.
 * Integer PCM of 8/16/24/32 bits and IEEE float of 32/64 bits (also inside
 * WAVE_FORMAT_EXTENSIBLE) are accepted and returned as s16le. Lenient where files
 * commonly are wrong: the RIFF size field is only used to stop before trailing bytes,
 * and a `data` chunk whose size runs past the end of the buffer (a truncated or still
 * being written file) is read up to the end; a trailing partial frame is dropped.
 *
 * @param buffer the whole file.
 * @returns PCM (s16le interleaved, a copy), sample rate (Hz), channels and the file's
 *   bits per sample.
 * @throws {RxVoiceError} `WAV_MALFORMED` when the bytes are not a usable WAV file: no
 *   `RIFF`/`WAVE` signature, a chunk overrunning the buffer before `fmt ` and `data` were
 *   found, a missing or invalid `fmt ` chunk, an unsupported sample format, or no `data`.
 */
export function parseWav(buffer: Uint8Array): ParsedWav {
  if (buffer.byteLength < 12) throw malformed(`${buffer.byteLength} bytes is too short for a RIFF header`);
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const tag = (at: number): string => String.fromCharCode(buffer[at], buffer[at + 1], buffer[at + 2], buffer[at + 3]);
  if (tag(0) !== 'RIFF') throw malformed(`missing RIFF signature (found ${JSON.stringify(tag(0))})`);
  if (tag(8) !== 'WAVE') throw malformed(`RIFF form type is ${JSON.stringify(tag(8))}, not WAVE`);
  const riffEnd = 8 + view.getUint32(4, true);
  const end = riffEnd >= 12 && riffEnd <= buffer.byteLength ? riffEnd : buffer.byteLength;

  let fmt: FmtChunk | undefined;
  let data: { offset: number; length: number } | undefined;
  let offset = 12;
  while (offset < end && !(fmt && data)) {
    if (offset + 8 > end) throw malformed(`truncated chunk header at byte ${offset}`);
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'data') {
      if (data) throw malformed('more than one data chunk');
      data = { offset: body, length: Math.min(size, buffer.byteLength - body) };
    } else {
      if (body + size > end) throw malformed(`${JSON.stringify(id)} chunk of ${size} bytes at byte ${offset} overruns the file`);
      if (id === 'fmt ') {
        if (fmt) throw malformed('more than one fmt chunk');
        fmt = readFmt(view, body, size);
      }
    }
    offset = body + size + (size & 1);
  }
  if (!fmt) throw malformed('no fmt chunk');
  if (!data) throw malformed('no data chunk');
  const length = data.length - (data.length % fmt.blockAlign);
  const pcm =
    fmt.format === WAVE_FORMAT_PCM && fmt.bitsPerSample === 16
      ? Buffer.from(buffer.subarray(data.offset, data.offset + length))
      : toS16(view, data.offset, length, fmt);
  return { pcm, sampleRate: fmt.sampleRate, channels: fmt.channels, bitsPerSample: fmt.bitsPerSample };
}
