import { Subject } from 'rxjs';
import type { VoiceConnection } from './connectVoice';
import {
  joinVoiceChannelFrom,
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
 * (the shard went away) the connection ends in `destroyed`.
 *
 * @example
 * ```ts
 * const conn = joinVoiceChannel({
 *   guildId: guild.id, channelId: channel.id, selfDeaf: false,
 *   adapterCreator: guild.voiceAdapterCreator,
 * });
 * await conn.ready();
 * ```
 */
export function joinVoiceChannel(options: JoinOptions & { adapterCreator: DiscordGatewayAdapterCreator }): VoiceConnection {
  const states = new Subject<VoiceStateUpdateData>();
  const servers = new Subject<VoiceServerUpdateData>();
  let connection: VoiceConnection | null = null;
  let adapterGone = false;
  const adapter = options.adapterCreator({
    onVoiceServerUpdate: (d) => servers.next(d),
    onVoiceStateUpdate: (d) => states.next(d),
    destroy: () => {
      adapterGone = true;
      connection?.destroy();
    },
  });
  connection = joinVoiceChannelFrom({
    ...options,
    gateway: {
      voiceStateUpdates$: states,
      voiceServerUpdates$: servers,
      send: (payload) => !adapterGone && adapter.sendPayload(payload),
      release: () => adapter.destroy(),
    },
  });
  if (adapterGone) connection.destroy();
  return connection;
}
