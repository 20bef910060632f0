/** Players: queues of tracks on one voice connection, with per-track events, skip, seek and gapless transitions. */
export { createPlayer } from './createPlayer';
export type { Player, PlayerOptions } from './createPlayer';
export type { Track, TrackInput, TrackEndReason, PlayerEvent, PlayerState } from './Track';
