import { OpusEncoder } from '@discordjs/opus';
import { CHANNELS, SAMPLE_RATE } from '../../core/audioFormat';

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
