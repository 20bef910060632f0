/**
 * Audio sources: observables that read files, streams and processes into rxvoice's frame
 * format (20 ms PCM frames or Opus packets, see `core/audioFormat`), honouring a sink's
 * `FrameDemand` so inputs are read only as fast as they are played.
 */
export { audioSource } from './audioSource';
export type { AudioSourceOptions } from './audioSource';
export { ffmpegSource } from './ffmpegSource';
export type { FfmpegSourceOptions } from './ffmpegSource';
export { oggOpusSource } from './oggOpusSource';
export { webmOpusSource } from './webmOpusSource';
export { pcmSource } from './pcmSource';
export type { PcmSourceOptions } from './pcmSource';
export { toneSource } from './toneSource';
export { frameSource } from './frameSource';
export type { ToneSourceOptions } from './toneSource';
export { findFfmpeg } from './findFfmpeg';
export type { FindFfmpegOptions } from './findFfmpeg';
export { AudioSourceError } from './AudioSourceError';
export type { AudioSourceErrorCode } from './AudioSourceError';
export { FfmpegNotFoundError } from './FfmpegNotFoundError';
