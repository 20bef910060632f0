import { ReplaySubject, Subject } from 'rxjs';
import type { VoiceConnection } from './connectVoice';
import { DEFAULT_GROUP, findTracked } from './voiceConnectionRegistry';
import {
  joinVoiceChannelFrom,
  rejoinRequest,
  type JoinOptions,
  type VoiceServerUpdateData,
  type VoiceStateUpdateData,
  type VoiceStateUpdatePayload,
} from './joinVoiceChannelFrom';

/** What the library gives a gateway adapter (same contract as @discordjs/voice). */
export interface DiscordGatewayAdapterLibraryMethods {
  onVoiceServerUpdate(data: VoiceServerUpdateData): void;
  onVoiceStateUpdate(data: VoiceStateUpdateData): void;
  /** The adapter can no longer be used (e.g. the shard disconnected). */
  destroy(): void;
}

/** What a gateway adapter gives the library. */
export interface DiscordGatewayAdapterImplementerMethods {
  /** Sends a payload on the main gateway; `false` if it certainly failed. */
  sendPayload(payload: VoiceStateUpdatePayload): boolean;
  /** The library no longer uses the adapter. */
  destroy(): void;
}

/**
 * Builds an adapter; discord.js's `guild.voiceAdapterCreator` is one. The contract is
 * @discordjs/voice's, so adapters written for it work unchanged.
 */
export type DiscordGatewayAdapterCreator = (methods: DiscordGatewayAdapterLibraryMethods) => DiscordGatewayAdapterImplementerMethods;

/**
 * Joins a voice channel through a gateway adapter (discord.js: `guild.voiceAdapterCreator`).
 * Same behaviour as {@link joinVoiceChannelFrom}; when the adapter's `destroy` is called
 * (the shard went away) the connection ends in `destroyed` with reason `adapter-gone`.
 *
 * One connection per guild (and `group`), as in @discordjs/voice: calling it again for a
 * guild with a live connection returns that connection — no new adapter, no second voice
 * session — and moves it if `channelId` (or `selfMute` / `selfDeaf`) differ: op 4, then it
 * follows Discord's updates (a new voice server, the new channel's DAVE group); a playing
 * `voiceSink` waits (`buffering`) and goes on in the new channel. Find it later with
 * {@link getVoiceConnection}; once destroyed, a join starts a fresh connection.
 *
 * @throws {VoiceConnectionError} `GATEWAY_UNAVAILABLE` when the guild has a connection and
 *   the adapter could not send the op 4 that moves it.
 * @example
 * ```ts
 * // /play, /join and /move all do this: the first call connects, later ones reuse or move
 * const conn = joinVoiceChannel({
 *   guildId: guild.id, channelId: member.voice.channelId, selfDeaf: false,
 *   adapterCreator: guild.voiceAdapterCreator,
 * });
 * await conn.ready();
 * ```
 */
export function joinVoiceChannel(options: JoinOptions & { adapterCreator: DiscordGatewayAdapterCreator }): VoiceConnection {
  // Before the adapter: creating one for a guild replaces the guild's previous one in discord.js.
  const existing = findTracked(options.guildId, options.group ?? DEFAULT_GROUP);
  if (existing) {
    existing.rejoin(rejoinRequest(options));
    return existing.connection;
  }
  const states = new Subject<VoiceStateUpdateData>();
  const servers = new Subject<VoiceServerUpdateData>();
  const gone = new ReplaySubject<void>(1); // the adapter may call destroy() before the connection exists
  const adapter = options.adapterCreator({
    onVoiceServerUpdate: (d) => servers.next(d),
    onVoiceStateUpdate: (d) => states.next(d),
    destroy: () => gone.next(),
  });
  let adapterGone = false;
  gone.subscribe(() => (adapterGone = true));
  return joinVoiceChannelFrom({
    ...options,
    gateway: {
      voiceStateUpdates$: states,
      voiceServerUpdates$: servers,
      send: (payload) => !adapterGone && adapter.sendPayload(payload),
      gone$: gone,
      release: () => adapter.destroy(),
    },
  });
}
