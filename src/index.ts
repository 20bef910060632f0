/** rxvoice: Discord voice on RxJS observables. */
export * from './errors';
export * from './gateway';
export * from './sources';
export * from './operators';
export * from './sinks';
export * from './player';
export * from './driver';
export * from './core/audioFormat';
export { withDemand, claimEmitter, DemandGate, SinkDemand } from './core/FrameDemand';
export type { FrameDemand } from './core/FrameDemand';
export { sharedVoiceClock, createHighResolutionClock, schedulerClock } from './core/VoiceClock';
export type { ClockTick, VoiceClock, HighResolutionClockOptions } from './core/VoiceClock';
export { generateDependencyReport, collectDependencyReport } from './generateDependencyReport';
export type { DependencyReport } from './generateDependencyReport';
// The Lavalink v4-compatible node (issue 14); its JSON types and codecs are in src/server/lavalink.
export { startLavalinkNode, loadLavalinkConfig } from './server/lavalink';
export type { LavalinkNode, LavalinkNodeOptions, LavalinkNodeConfig } from './server/lavalink';
