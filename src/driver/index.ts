export { configureVoiceDriver, voiceDriverThreads } from './configureVoiceDriver';
export type { VoiceDriverOptions } from './configureVoiceDriver';
