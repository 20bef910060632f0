export { connectVoice, voiceGatewayUrl } from './connectVoice';
export type { ConnectVoiceOptions, SpeakingEvent, VoiceConnection, VoiceLogEntry, VoiceTransport } from './connectVoice';
export { VoiceConnectionError } from './VoiceConnectionError';
export type { VoiceConnectionErrorCode } from './VoiceConnectionError';
export type { UdpAddress, VoiceConnectionDestroyReason, VoiceConnectionState, VoiceConnectionStatus } from './VoiceConnectionState';
export { reduceConnection, initialConnectionModel, chooseEncryptionMode } from './connectionReducer';
export type { ConnectionConfig, ConnectionEvent, ConnectionModel } from './connectionReducer';
export { startConnectionMachine } from './connectionMachine';
export type { ConnectionDrivers, ConnectionMachine } from './connectionMachine';
export { openGatewaySocket } from './GatewaySocket';
export type { GatewaySocket, GatewaySocketEvent, GatewayTlsOptions } from './GatewaySocket';
export { openVoiceUdpSocket } from './VoiceUdpSocket';
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
export { waitForReady } from './waitForReady';
export type { ReadyState } from './waitForReady';
export type { ReceivedPacket, ReceiveStats, Speaker } from './VoiceReceiver';
export type { DaveState } from './DaveController';
