/**
 * `rxvoice/testing`: a local emulator of Discord's voice server for offline tests, and
 * audio analysis helpers.
 */
export { startVoiceServer } from './startVoiceServer';
export type * from './VoiceServer';
export * from './audio';
export { startMainGateway } from './startMainGateway';
export type * from './MainGateway';
