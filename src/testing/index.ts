/**
 * `rxvoice/testing`: a local emulator of Discord's voice server for offline tests, and
 * audio analysis helpers.
 *
 * The emulator's MLS stack (`ts-mls`, `@noble/curves`) and its certificate generator
 * (`selfsigned`) are optional peer dependencies of rxvoice: the main entry never loads
 * them. Importing this entry point checks they are installed, and otherwise fails at once
 * with an error naming them and the command that installs them.
 */
import { assertOptionalPeers } from './internal/optionalPeers';

assertOptionalPeers('rxvoice/testing', ['ts-mls', '@noble/curves', 'selfsigned']);

export { startVoiceServer } from './startVoiceServer';
export type * from './VoiceServer';
export * from './audio';
export { startMainGateway } from './startMainGateway';
export type * from './MainGateway';
