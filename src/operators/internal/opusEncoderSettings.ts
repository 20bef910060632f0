import { OpusEncoder } from '@discordjs/opus';
import { CHANNELS, PCM_FRAME_BYTES, SAMPLE_RATE } from '../../core/audioFormat';
import { RxVoiceError } from '../../errors';
import { describeValue } from './describeValue';

/** libopus encoder CTL request numbers (`opus_defines.h`, libopus 1.3.1 as bundled by @discordjs/opus). */
const OPUS_SET_COMPLEXITY_REQUEST = 4010;
const OPUS_SET_INBAND_FEC_REQUEST = 4012;
const OPUS_SET_PACKET_LOSS_PERC_REQUEST = 4014;
const OPUS_SET_SIGNAL_REQUEST = 4024;
const OPUS_AUTO = -1000;
const OPUS_SIGNAL_VOICE = 3001;
const OPUS_SIGNAL_MUSIC = 3002;

export const SIGNALS = { auto: OPUS_AUTO, voice: OPUS_SIGNAL_VOICE, music: OPUS_SIGNAL_MUSIC } as const;

/** Validated settings of one encoder (plain data: they are posted to codec threads). */
export interface OpusEncoderSettings {
  bitrate: number;
  complexity?: number;
  fec: boolean;
  packetLossPercent: number;
  signal: keyof typeof SIGNALS;
}

/** A 48 kHz stereo libopus encoder with `settings` applied. Throws what libopus throws. */
export function createOpusEncoder(settings: OpusEncoderSettings): OpusEncoder {
  const encoder = new OpusEncoder(SAMPLE_RATE, CHANNELS);
  encoder.setBitrate(settings.bitrate);
  if (settings.complexity !== undefined) encoder.applyEncoderCTL(OPUS_SET_COMPLEXITY_REQUEST, settings.complexity);
  encoder.applyEncoderCTL(OPUS_SET_INBAND_FEC_REQUEST, settings.fec ? 1 : 0);
  encoder.applyEncoderCTL(OPUS_SET_PACKET_LOSS_PERC_REQUEST, settings.packetLossPercent);
  encoder.applyEncoderCTL(OPUS_SET_SIGNAL_REQUEST, SIGNALS[settings.signal]);
  return encoder;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Why `frame` cannot be encoded (not a Buffer, or longer than one 20 ms frame of 3840 bytes;
 * shorter ones are zero-padded), as the `BAD_FRAME` error both encode paths end with; null
 * when it can.
 */
export function badPcmFrame(frame: unknown): RxVoiceError<'BAD_FRAME'> | null {
  if (!Buffer.isBuffer(frame)) return new RxVoiceError('BAD_FRAME', `opusEncode: expected a PCM frame (Buffer), got ${describeValue(frame)}`);
  if (frame.length > PCM_FRAME_BYTES) {
    return new RxVoiceError('BAD_FRAME', `opusEncode: a PCM frame is at most ${PCM_FRAME_BYTES} bytes (20 ms s16le 48 kHz stereo), got ${frame.length}`);
  }
  return null;
}
