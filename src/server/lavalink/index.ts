/**
 * rxvoice as a Lavalink v4-compatible audio node: `startLavalinkNode`, Lavalink's config file,
 * track loading and encoding, and the v4 JSON types. See docs/lavalink-node.md.
 */
export { startLavalinkNode, LAVALINK_COMPAT_VERSION } from './startLavalinkNode';
export type { LavalinkNode, LavalinkNodeOptions, NodeLogEntry } from './startLavalinkNode';
export { loadLavalinkConfig } from './config';
export type { LavalinkNodeConfig, LavalinkSourcesConfig, LavalinkConfigOverrides, LoadLavalinkConfigOptions } from './config';
export { loadTracks } from './loadTracks';
export type { LoadTracksConfig, LoadTracksOptions } from './loadTracks';
export { encodeTrack, decodeTrack, decodeTrackDetails } from './trackCodec';
export type { DecodedTrack, EncodableTrack } from './trackCodec';
export { createNodeMetrics } from './metrics';
export type { NodeMetrics, NodeMetricsOptions, NodeMetricsSnapshot } from './metrics';
export type * from './types';
