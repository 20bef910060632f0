export * from './rtp';
export * from './ipDiscovery';
export * from './opcodes';
export * from './closeCodes';
export * from './transportCrypto';
export { ProtocolError, RxVoiceError } from '../errors';
export type { ProtocolErrorCode } from '../errors';
