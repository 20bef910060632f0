/**
 * Audio operators: RxJS operators and creation functions over 20 ms frames (PCM s16le
 * 48 kHz stereo, 3840 bytes; or Opus packets). One operator per file, named after it.
 */
export { opusEncode } from './opusEncode';
export type { OpusEncodeOptions } from './opusEncode';
export { opusDecode } from './opusDecode';
export type { OpusDecodeOptions, OpusDecodeStats, OpusDecoderBackend } from './opusDecode';
export { resample } from './resample';
export type { ResampleFormat, ResampleOptions } from './resample';
export { volume } from './volume';
export { mix, mixWith, MIX_MAX_QUEUED_FRAMES } from './mix';
export { OPUS_GAP, isOpusGap } from '../core/JitterItem';
export type { JitterItem, OpusGap } from '../core/JitterItem';
export { pace } from './pace';
export type { PaceOptions } from './pace';
export { packetize } from './packetize';
export type { RtpPacket } from './packetize';
export { encrypt } from './encrypt';
export { daveEncrypt } from './daveEncrypt';
export { silencePadding } from './silencePadding';
export { jitterBuffer } from './jitterBuffer';
export type { JitterBufferOptions, JitterBufferStats } from './jitterBuffer';
export { endAfterSilence } from './endAfterSilence';
export { detectSpeaking } from './detectSpeaking';
export type { DetectSpeakingOptions, SpeakingChange } from './detectSpeaking';
