import type { RequiredWebSocketManagerOptions, SessionInfo } from '@discordjs/ws';
import {
  GatewayCloseCodes,
  GatewayDispatchEvents,
  GatewayIntentBits,
  type APIGatewayBotInfo,
  type APIGuildMember,
  type GatewayDispatchPayload,
  type GatewaySendPayload,
} from 'discord-api-types/v10';
import { Subject } from 'rxjs';
import type { MainGatewayLink, VoiceServerUpdateData, VoiceStateUpdateData } from '../gateway/joinVoiceChannelFrom';
import { CliError } from './CliError';

/** Options of {@link connectDiscordGateway}. */
export interface DiscordGatewayOptions {
  token: string;
  /** The guild to join a voice channel of: decides the shard, and is checked against READY. */
  guildId: string;
  /** The voice channel: checked against the guild's GUILD_CREATE (when it arrives in time). */
  channelId: string;
  /** A main gateway to use instead of asking Discord's `/gateway/bot` (emulators). */
  gatewayUrl?: string | null;
  /** Debug lines (never contain the token). */
  log?: (line: string) => void;
  /** How long to wait for READY, ms. Default 30000. */
  readyTimeoutMs?: number;
}

/** A connected main-gateway shard, ready to carry voice state updates. */
export interface DiscordGateway {
  /** The bot's user id (READY). */
  readonly userId: string;
  readonly shardId: number;
  /** For `joinVoiceChannelFrom`. */
  readonly link: MainGatewayLink;
  /**
   * A member's display name in the guild (nickname, else global name, else username), as
   * last seen in GUILD_CREATE `members` or a VOICE_STATE_UPDATE `member`; undefined for a
   * user the gateway has not described (no GUILD_MEMBERS intent is requested).
   */
  userName(userId: string): string | undefined;
  /** Resolves when every payload given to `link.send` was written to the socket (or failed), at most `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  /** Closes the shard with 1000 (the session ends). */
  destroy(): Promise<void>;
}

const DISCORD_API = 'https://discord.com/api/v10';
const INTENTS = GatewayIntentBits.Guilds | GatewayIntentBits.GuildVoiceStates;
/** Close codes after which @discordjs/ws gives up; each becomes a clear error. */
const FATAL_CLOSES: Record<number, string> = {
  [GatewayCloseCodes.InvalidShard]: 'invalid shard (4010)',
  [GatewayCloseCodes.ShardingRequired]: 'sharding required (4011)',
  [GatewayCloseCodes.InvalidAPIVersion]: 'invalid API version (4012)',
  [GatewayCloseCodes.InvalidIntents]: 'invalid intents (4013)',
  [GatewayCloseCodes.DisallowedIntents]: 'disallowed intents (4014): enable them for the application in the developer portal',
};

/**
 * `@discordjs/ws`, loaded when the CLI connects: it is an optional peer dependency of
 * rxvoice (library users who bring their own gateway never load it).
 *
 * @throws {CliError} `GATEWAY_FAILED` naming the package when it is not installed.
 */
export function loadDiscordWs(): typeof import('@discordjs/ws') {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@discordjs/ws') as typeof import('@discordjs/ws');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes("'@discordjs/ws'")) {
      throw new CliError(
        'GATEWAY_FAILED',
        "the rxvoice command line needs the optional peer dependency '@discordjs/ws' for Discord's main gateway: npm install @discordjs/ws@^2.0.4",
        { cause: err },
      );
    }
    throw err;
  }
}

/** The shard that receives a guild's events: `(guild_id >> 22) % shard_count`. */
export function shardForGuild(guildId: string, shardCount: number): number {
  return shardCount <= 1 ? 0 : Number((BigInt(guildId) >> 22n) % BigInt(shardCount));
}

/** `GET /gateway/bot`, with plain `fetch` (the one network request outside the gateway; skipped with `gatewayUrl`). */
async function fetchGatewayBot(token: string): Promise<APIGatewayBotInfo> {
  let res: Response;
  try {
    res = await fetch(`${DISCORD_API}/gateway/bot`, { headers: { Authorization: `Bot ${token}` }, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    throw new CliError('GATEWAY_FAILED', `could not reach Discord (${DISCORD_API}/gateway/bot): ${err instanceof Error ? err.message : String(err)}`);
  }
  if (res.status === 401) throw new CliError('AUTHENTICATION_FAILED', 'authentication failed: Discord rejected the bot token (HTTP 401)');
  if (!res.ok) throw new CliError('GATEWAY_FAILED', `Discord answered /gateway/bot with HTTP ${res.status}`);
  return (await res.json()) as APIGatewayBotInfo;
}

/**
 * Connects one shard of the main gateway with `@discordjs/ws` (intents GUILDS |
 * GUILD_VOICE_STATES, JSON, no compression) and exposes it as a {@link MainGatewayLink}.
 *
 * Gateway information is supplied to the manager without its REST client: from
 * `gatewayUrl` (one shard; nothing else touches the network), else from one `fetch` of
 * `/gateway/bot`. Only the shard that owns `guildId` is spawned.
 *
 * @throws {CliError} `AUTHENTICATION_FAILED` (close 4004), `GATEWAY_FAILED` (other fatal
 *   closes, READY timeout), `JOIN_FAILED` (the bot is not in the guild, or the channel is
 *   not one of its voice channels).
 */
export async function connectDiscordGateway(options: DiscordGatewayOptions): Promise<DiscordGateway> {
  const log = options.log ?? (() => undefined);
  const { Encoding, WebSocketManager, WebSocketShardEvents } = loadDiscordWs();
  const info: APIGatewayBotInfo = options.gatewayUrl
    ? { url: options.gatewayUrl, shards: 1, session_start_limit: { total: 1000, remaining: 1000, reset_after: 0, max_concurrency: 1 } }
    : await fetchGatewayBot(options.token);
  const shardId = shardForGuild(options.guildId, info.shards);

  /** @discordjs/ws 2.x takes gateway information from `fetchGatewayInformation()`: answered here, never by REST. */
  class PresetGatewayManager extends WebSocketManager {
    override fetchGatewayInformation(): Promise<APIGatewayBotInfo> {
      return Promise.resolve(info);
    }
  }
  const noRest = {
    get: () => Promise.reject(new Error('rxvoice: the main gateway must not make REST calls')),
  } as unknown as RequiredWebSocketManagerOptions['rest'];
  const sessions = new Map<number, SessionInfo>();

  const manager = new PresetGatewayManager({
    token: options.token,
    intents: INTENTS,
    rest: noRest,
    shardCount: info.shards,
    shardIds: [shardId],
    encoding: Encoding.JSON,
    compression: null,
    useIdentifyCompression: false,
    readyTimeout: options.readyTimeoutMs ?? 30_000,
    retrieveSessionInfo: (id) => sessions.get(id) ?? null,
    updateSessionInfo: (id, s) => {
      if (s) sessions.set(id, s);
      else sessions.delete(id);
    },
  });

  const voiceStates = new Subject<VoiceStateUpdateData>();
  const voiceServers = new Subject<VoiceServerUpdateData>();
  const guildChannels = new Map<string, { id: string; type: number }[]>();
  const guildCreated = new Subject<string>();
  const names = new Map<string, string>();
  const rememberMember = (m: Partial<APIGuildMember> | undefined): void => {
    const u = m?.user;
    if (!u?.id) return;
    const name = m?.nick || u.global_name || u.username;
    if (name) names.set(u.id, name);
  };
  let fail: (err: CliError) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => {
    fail = reject;
  });
  failed.catch(() => undefined);

  manager.on(WebSocketShardEvents.Debug, (message) => log(`gateway: ${message.replace(/\n\t/g, ' | ')}`));
  manager.on(WebSocketShardEvents.Error, (error) => log(`gateway error: ${error.message}`));
  manager.on(WebSocketShardEvents.SocketError, (error) => log(`gateway socket error: ${error.message}`));
  manager.on(WebSocketShardEvents.Closed, (code) => {
    log(`gateway: closed with ${code}`);
    if (code === GatewayCloseCodes.AuthenticationFailed) {
      fail(new CliError('AUTHENTICATION_FAILED', 'authentication failed: the main gateway rejected the bot token (close 4004)'));
    } else if (FATAL_CLOSES[code]) {
      fail(new CliError('GATEWAY_FAILED', `the main gateway closed the session: ${FATAL_CLOSES[code]}`));
    }
  });
  manager.on(WebSocketShardEvents.Dispatch, (payload: GatewayDispatchPayload) => {
    switch (payload.t) {
      case GatewayDispatchEvents.VoiceStateUpdate:
        if (payload.d.guild_id === options.guildId) rememberMember(payload.d.member);
        voiceStates.next(payload.d as unknown as VoiceStateUpdateData);
        break;
      case GatewayDispatchEvents.VoiceServerUpdate:
        voiceServers.next(payload.d as unknown as VoiceServerUpdateData);
        break;
      case GatewayDispatchEvents.GuildCreate:
        guildChannels.set(
          payload.d.id,
          payload.d.channels.map((c) => ({ id: c.id, type: c.type })),
        );
        if (payload.d.id === options.guildId) for (const m of payload.d.members ?? []) rememberMember(m);
        guildCreated.next(payload.d.id);
        break;
      default:
        break;
    }
  });

  let readyUser: string | null = null;
  let readyGuilds: string[] = [];
  manager.on(WebSocketShardEvents.Ready, (data) => {
    readyUser = data.user.id;
    readyGuilds = data.guilds.map((g) => g.id);
  });
  // Subscribed before connecting: GUILD_CREATE follows READY at once.
  const guildSeen = new Promise<boolean>((resolve) => {
    const sub = guildCreated.subscribe((id) => {
      if (id === options.guildId) {
        sub.unsubscribe();
        resolve(true);
      }
    });
    setTimeout(() => {
      sub.unsubscribe();
      resolve(guildChannels.has(options.guildId));
    }, 10_000).unref();
  });

  const destroy = async (): Promise<void> => {
    try {
      await manager.destroy({ code: 1000, reason: 'rxvoice: done' });
    } catch (err) {
      log(`gateway: destroy failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  const readyTimeoutMs = (options.readyTimeoutMs ?? 30_000) + 5000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      manager.connect(),
      failed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new CliError('GATEWAY_FAILED', `the main gateway did not send READY within ${Math.round(readyTimeoutMs / 1000)} s`)),
          readyTimeoutMs,
        );
      }),
    ]);
  } catch (err) {
    await destroy();
    if (err instanceof CliError) throw err;
    throw new CliError('GATEWAY_FAILED', `could not connect to the main gateway: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    clearTimeout(timer);
  }
  if (readyUser === null) {
    await destroy();
    throw new CliError('GATEWAY_FAILED', 'the main gateway did not send READY');
  }
  const userId: string = readyUser;
  if (!readyGuilds.includes(options.guildId)) {
    await destroy();
    throw new CliError('JOIN_FAILED', `the bot is not a member of guild ${options.guildId} (READY lists ${readyGuilds.length} guild(s))`);
  }
  if (await guildSeen) {
    const channel = guildChannels.get(options.guildId)?.find((c) => c.id === options.channelId);
    // 2 = GUILD_VOICE, 13 = GUILD_STAGE_VOICE
    if (!channel || (channel.type !== 2 && channel.type !== 13)) {
      await destroy();
      throw new CliError('JOIN_FAILED', `channel ${options.channelId} is not a voice channel of guild ${options.guildId}`);
    }
  } else log(`gateway: no GUILD_CREATE for ${options.guildId} yet; not checking the channel`);

  const pending = new Set<Promise<void>>();
  const link: MainGatewayLink = {
    voiceStateUpdates$: voiceStates.asObservable(),
    voiceServerUpdates$: voiceServers.asObservable(),
    send: (payload) => {
      log(`gateway: op 4 guild ${payload.d.guild_id} channel ${payload.d.channel_id ?? 'null'}`);
      const p = Promise.resolve()
        .then(() => manager.send(shardId, payload as unknown as GatewaySendPayload))
        .catch((err: unknown) => log(`gateway: send failed: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => pending.delete(p));
      pending.add(p);
      return true;
    },
  };

  return {
    userId,
    shardId,
    link,
    userName: (id) => names.get(id),
    flush: async (timeoutMs = 2000) => {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...pending]), new Promise((r) => (t = setTimeout(r, timeoutMs)))]);
      clearTimeout(t);
    },
    destroy,
  };
}
