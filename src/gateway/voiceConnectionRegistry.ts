import type { VoiceConnection } from './connectVoice';

/** What a later join for the same guild and group asks of a connection. */
export interface RejoinRequest {
  channelId: string;
  selfMute: boolean;
  selfDeaf: boolean;
}

/** A connection made by a join function, and how to point it at another channel. */
export interface TrackedConnection {
  readonly connection: VoiceConnection;
  /**
   * A join for the same guild and group: sends op 4 if the channel or the flags differ, or
   * if the connection gave up (`disconnected`). Throws `VoiceConnectionError`
   * `GATEWAY_UNAVAILABLE` if the op 4 could not be sent.
   */
  rejoin(request: RejoinRequest): void;
}

/** The default group, as in @discordjs/voice. */
export const DEFAULT_GROUP = 'default';

/**
 * Live connections by group, then guild id (internal). `joinVoiceChannel` and
 * `joinVoiceChannelFrom` add a connection when they create it and remove it when it is
 * destroyed; `getVoiceConnection(s)` read it.
 */
const groups = new Map<string, Map<string, TrackedConnection>>();

export function findTracked(guildId: string, group: string): TrackedConnection | undefined {
  return groups.get(group)?.get(guildId);
}

export function track(guildId: string, group: string, tracked: TrackedConnection): void {
  let guilds = groups.get(group);
  if (!guilds) groups.set(group, (guilds = new Map()));
  guilds.set(guildId, tracked);
}

/** Removes the entry if it is still `tracked` (a newer connection for the guild stays). */
export function untrack(guildId: string, group: string, tracked: TrackedConnection): void {
  const guilds = groups.get(group);
  if (guilds?.get(guildId) !== tracked) return;
  guilds.delete(guildId);
  if (guilds.size === 0) groups.delete(group);
}

/** A snapshot of a group's connections by guild id. */
export function trackedConnections(group: string): Map<string, VoiceConnection> {
  return new Map([...(groups.get(group) ?? new Map<string, TrackedConnection>())].map(([guildId, t]) => [guildId, t.connection]));
}
