export { configureVoiceDriver, voiceDriverThreads } from './configureVoiceDriver';
export type { VoiceDriverOptions } from './configureVoiceDriver';
export { voiceDriverStats } from './voiceDriverStats';
export type { VoiceDriverStats } from './voiceDriverStats';
