/**
 * Audio helpers for tests and the voice-server emulator. All PCM is signed 16-bit
 * little-endian, interleaved by channel; defaults are 48000 Hz stereo, so a 20 ms frame is
 * 960 samples per channel = 3840 bytes.
 */
export type { PcmFormat } from './PcmFormat';
export { generateTone } from './generateTone';
export type { GenerateToneOptions } from './generateTone';
export { toMono } from './toMono';
export { rms } from './rms';
export { durationMs } from './durationMs';
export { frequencyPower } from './frequencyPower';
export { dominantFrequency } from './dominantFrequency';
export type { DominantFrequencyOptions } from './dominantFrequency';
export { alignedSnr } from './alignedSnr';
export type { AlignedSnrOptions, AlignedSnrResult } from './alignedSnr';
export { encodeWav, parseWav } from './wav';
export type { ParsedWav } from './wav';
