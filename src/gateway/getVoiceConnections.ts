import type { VoiceConnection } from './connectVoice';
import { DEFAULT_GROUP, trackedConnections } from './voiceConnectionRegistry';

/**
 * Every live connection of a group, by guild id: a snapshot (later joins and destroys do not
 * change the map you got). Empty when there is none.
 *
 * @param group The group given to `joinVoiceChannel`; default `'default'`.
 * @returns A new map from guild id to its connection.
 * @example
 * ```ts
 * // on shutdown: leave every channel
 * for (const conn of getVoiceConnections().values()) conn.destroy();
 * ```
 */
export function getVoiceConnections(group: string = DEFAULT_GROUP): ReadonlyMap<string, VoiceConnection> {
  return trackedConnections(group);
}
