export { connectVoice, voiceGatewayUrl } from './connectVoice';
export type { ConnectVoiceOptions, SpeakingEvent, VoiceConnection, VoiceLogEntry, VoiceTransport } from './connectVoice';
export { VoiceConnectionError } from './VoiceConnectionError';
export type { VoiceConnectionErrorCode } from './VoiceConnectionError';
export type { UdpAddress, VoiceConnectionDestroyReason, VoiceConnectionState, VoiceConnectionStatus } from './VoiceConnectionState';
// The reducer, the machine and the socket openers are internals (import them from their
// files in tests); only the types the public options mention are exported.
export type { ConnectionDrivers } from './connectionMachine';
export type { GatewaySocket, GatewaySocketEvent, GatewayTlsOptions } from './GatewaySocket';
export type { VoiceUdpSocket, IpDiscoveryOptions } from './VoiceUdpSocket';
export { joinVoiceChannel } from './joinVoiceChannel';
export type {
  DiscordGatewayAdapterCreator,
  DiscordGatewayAdapterImplementerMethods,
  DiscordGatewayAdapterLibraryMethods,
} from './joinVoiceChannel';
export { joinVoiceChannelFrom, DEFAULT_GATEWAY_GRACE_MS } from './joinVoiceChannelFrom';
export { getVoiceConnection } from './getVoiceConnection';
export { getVoiceConnections } from './getVoiceConnections';
export type { JoinOptions, MainGatewayLink, VoiceServerUpdateData, VoiceStateUpdateData, VoiceStateUpdatePayload } from './joinVoiceChannelFrom';
export type { ReadyState } from './waitForReady';
export type { ReceivedPacket, ReceiveStats, Speaker } from './VoiceReceiver';
export type { DaveState } from './DaveController';
