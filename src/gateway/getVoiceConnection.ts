import type { VoiceConnection } from './connectVoice';
import { DEFAULT_GROUP, findTracked } from './voiceConnectionRegistry';

/**
 * The live connection of a guild: the one `joinVoiceChannel` (or `joinVoiceChannelFrom`)
 * made for `guildId` in `group`, until it is destroyed — by `destroy()`, by a moderator
 * disconnecting the bot, or when its adapter goes away. A connection that gave up
 * (`disconnected`) is still returned: join again, or call `rejoin()`, to reconnect it.
 *
 * As in @discordjs/voice, there is one connection per guild and group; groups (default
 * `'default'`) let one process run several bots.
 *
 * @param guildId The guild (server) id.
 * @param group The group given to `joinVoiceChannel`; default `'default'`.
 * @returns The connection, or `undefined` if the bot is not connected in that guild.
 * @example
 * ```ts
 * // /leave
 * const conn = getVoiceConnection(interaction.guildId);
 * if (!conn) return interaction.reply('I am not in a voice channel.');
 * conn.destroy(); // leaves; getVoiceConnection(interaction.guildId) is undefined from now on
 * ```
 */
export function getVoiceConnection(guildId: string, group: string = DEFAULT_GROUP): VoiceConnection | undefined {
  return findTracked(guildId, group)?.connection;
}
