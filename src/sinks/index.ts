/**
 * Sinks: where audio observables end. Each is an operator that subscribes to its
 * upstream with a `SinkDemand` (see `src/core/FrameDemand.ts`) and emits one result.
 */
export { wavFileSink } from './wavFileSink';
export type { WavFileResult, WavFileSinkOptions } from './wavFileSink';
export { oggOpusFileSink } from './oggOpusFileSink';
export type { OggFileResult, OggOpusFileSinkOptions } from './oggOpusFileSink';
export { voiceSink } from './voiceSink';
export type { PlaybackProgress, VoiceSinkOptions } from './voiceSink';
export { createPlaybackControl } from './createPlaybackControl';
export type { PlaybackCommand, PlaybackControl } from './createPlaybackControl';
export { recordVoiceChannel } from './recordVoiceChannel';
export type {
  RecordedFile,
  RecordingFormat,
  RecordingManifest,
  RecordingProgress,
  RecordingSpeaker,
  RecordingSpurt,
  RecordVoiceChannelOptions,
} from './recordVoiceChannel';
