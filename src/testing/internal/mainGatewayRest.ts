/**
 * The main-gateway emulator's optional REST API (v10, JSON): just what a bot library such as
 * discord.js needs to log in, register slash commands and answer interactions.
 */
import { randomBytes } from 'node:crypto';
import type * as http from 'node:http';
import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  ApplicationIntegrationType,
  GatewayDispatchEvents,
  type GuildMemberFlags,
  InteractionContextType,
  InteractionResponseType,
  InteractionType,
  Locale,
  MessageFlags,
  MessageType,
  PermissionFlagsBits,
  type APIApplicationCommand,
  type APIApplicationCommandInteractionDataBasicOption,
  type APIApplicationCommandOption,
  type APIChannel,
  type APIChatInputApplicationCommandGuildInteraction,
  type APIGatewayBotInfo,
  type APIInteractionDataResolvedChannel,
  type APIMessage,
  type APIUser,
  type RESTPostAPIInteractionCallbackWithResponseResult,
} from 'discord-api-types/v10';
import type {
  MainGatewayEvent,
  MainGatewayInteraction,
  MainGatewayInteractionHandle,
  MainGatewayInteractionResponse,
  MainGatewayRestRequest,
} from '../MainGateway';

/** What the REST API needs from the gateway emulator. */
export interface RestContext {
  /** The bot token without a `Bot ` prefix. */
  token: string;
  botUser: APIUser;
  /** A user's profile (from the gateway's `users` option), for the invoking member. */
  profile(userId: string): { username?: string; globalName?: string | null; nick?: string | null } | undefined;
  applicationId: string;
  gatewayBotInfo(): APIGatewayBotInfo;
  /** A guild's channels (as in GUILD_CREATE) and a member's voice state, or undefined for an unknown guild. */
  guild(guildId: string): { channels: (Partial<APIChannel> & Pick<APIChannel, 'id' | 'type'>)[]; voiceState(userId: string): { deaf: boolean; mute: boolean } | undefined } | undefined;
  /** Sends a dispatch to the sessions of the guild's shard; how many got it. */
  dispatchToGuild(guildId: string, t: string, d: unknown): number;
  emit(e: MainGatewayEvent): void;
  responseTimeoutMs: number;
}

export interface RestApi {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  requests(): MainGatewayRestRequest[];
  commands(guildId?: string): APIApplicationCommand[];
  interact(i: MainGatewayInteraction): MainGatewayInteractionHandle;
  responses(interactionId?: string): MainGatewayInteractionResponse[];
}

interface InteractionRecord {
  id: string;
  token: string;
  channelId: string;
  createdAt: number;
  acknowledged: boolean;
  original: APIMessage | null;
}

/** An error answer: HTTP status and Discord's JSON error body. */
class RestError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY = 1 << 20;
const DISCORD_EPOCH = 1_420_070_400_000n;
/** Permissions given to invoking members and the app in interactions. */
const PERMISSIONS = String(
  PermissionFlagsBits.ViewChannel |
    PermissionFlagsBits.SendMessages |
    PermissionFlagsBits.EmbedLinks |
    PermissionFlagsBits.AttachFiles |
    PermissionFlagsBits.UseApplicationCommands |
    PermissionFlagsBits.Connect |
    PermissionFlagsBits.Speak |
    PermissionFlagsBits.UseVAD,
);
const COMMAND_NAME = /^[-_\p{L}\p{N}]{1,32}$/u;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function createRestApi(ctx: RestContext): RestApi {
  const requests: MainGatewayRestRequest[] = [];
  const responses: MainGatewayInteractionResponse[] = [];
  /** Key `''`: global commands; otherwise a guild id. */
  const commands = new Map<string, APIApplicationCommand[]>();
  const interactions = new Map<string, InteractionRecord>();
  let increment = 0;
  const snowflake = (): string => String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | BigInt(increment++ & 0xfff));

  const record = (r: Omit<MainGatewayInteractionResponse, 'content'>): void => {
    const response: MainGatewayInteractionResponse = { ...r, content: typeof r.data?.content === 'string' ? r.data.content : null };
    responses.push(response);
    ctx.emit({ type: 'interaction-response', response });
  };

  const requireBot = (req: http.IncomingMessage): void => {
    const auth = req.headers.authorization ?? '';
    if (!/^Bot\s+/i.test(auth) || auth.replace(/^Bot\s+/i, '') !== ctx.token) throw new RestError(401, 0, '401: Unauthorized');
  };

  // ---- commands -------------------------------------------------------------------------

  const overwriteCommands = (key: string, body: unknown): APIApplicationCommand[] => {
    if (!Array.isArray(body)) throw new RestError(400, 50035, 'Invalid Form Body');
    const previous = commands.get(key) ?? [];
    const seen = new Set<string>();
    const next = body.map((c): APIApplicationCommand => {
      if (!isRecord(c) || typeof c.name !== 'string' || !COMMAND_NAME.test(c.name)) throw new RestError(400, 50035, 'Invalid Form Body');
      const type = typeof c.type === 'number' ? c.type : ApplicationCommandType.ChatInput;
      const description = typeof c.description === 'string' ? c.description : '';
      if (type === ApplicationCommandType.ChatInput && (c.name !== c.name.toLowerCase() || description.length < 1 || description.length > 100)) {
        throw new RestError(400, 50035, 'Invalid Form Body');
      }
      if (seen.has(`${type}:${c.name}`)) throw new RestError(400, 50035, 'Invalid Form Body: application command names must be unique');
      seen.add(`${type}:${c.name}`);
      const kept = previous.find((p) => p.name === c.name && p.type === type);
      return {
        id: kept?.id ?? snowflake(),
        type,
        application_id: ctx.applicationId,
        ...(key ? { guild_id: key } : {}),
        name: c.name,
        name_localizations: null,
        description,
        description_localizations: null,
        ...(Array.isArray(c.options) && c.options.length > 0 ? { options: c.options as APIApplicationCommandOption[] } : {}),
        default_member_permissions: typeof c.default_member_permissions === 'string' ? c.default_member_permissions : null,
        nsfw: c.nsfw === true,
        ...(key
          ? {}
          : {
              integration_types: [ApplicationIntegrationType.GuildInstall],
              contexts: null,
            }),
        version: snowflake(),
      };
    });
    commands.set(key, next);
    return next;
  };

  // ---- interactions ---------------------------------------------------------------------

  const message = (i: InteractionRecord, data: Record<string, unknown>, flags: number): APIMessage => ({
    id: snowflake(),
    channel_id: i.channelId,
    author: ctx.botUser,
    content: typeof data.content === 'string' ? data.content : '',
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: data.tts === true,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: Array.isArray(data.embeds) ? (data.embeds as APIMessage['embeds']) : [],
    components: Array.isArray(data.components) ? (data.components as NonNullable<APIMessage['components']>) : [],
    pinned: false,
    type: MessageType.ChatInputCommand,
    webhook_id: ctx.applicationId,
    application_id: ctx.applicationId,
    flags,
  });

  const interactionOf = (id: string, token: string): InteractionRecord => {
    const i = interactions.get(id);
    if (!i || i.token !== token) throw new RestError(404, 10062, 'Unknown interaction');
    return i;
  };
  const webhookOf = (appId: string, token: string): InteractionRecord => {
    const i = appId === ctx.applicationId ? [...interactions.values()].find((x) => x.token === token) : undefined;
    if (!i) throw new RestError(401, 50027, 'Invalid Webhook Token');
    return i;
  };

  const callback = (i: InteractionRecord, body: unknown, withResponse: boolean): [number, unknown] => {
    if (performance.now() - i.createdAt > ctx.responseTimeoutMs) throw new RestError(404, 10062, 'Unknown interaction');
    if (i.acknowledged) throw new RestError(400, 40060, 'Interaction has already been acknowledged.');
    if (!isRecord(body) || typeof body.type !== 'number') throw new RestError(400, 50035, 'Invalid Form Body');
    const data = isRecord(body.data) ? body.data : null;
    const allowed: number[] = [
      InteractionResponseType.ChannelMessageWithSource,
      InteractionResponseType.DeferredChannelMessageWithSource,
      InteractionResponseType.Modal,
      InteractionResponseType.LaunchActivity,
    ];
    if (!allowed.includes(body.type)) throw new RestError(400, 40043, 'Interaction response type not valid for an application command');
    i.acknowledged = true;
    const flags = typeof data?.flags === 'number' ? data.flags & MessageFlags.Ephemeral : 0;
    if (body.type === InteractionResponseType.ChannelMessageWithSource) i.original = message(i, data ?? {}, flags);
    if (body.type === InteractionResponseType.DeferredChannelMessageWithSource) i.original = message(i, {}, flags | MessageFlags.Loading);
    record({ interactionId: i.id, kind: 'callback', type: body.type, data });
    if (!withResponse) return [204, null];
    const result: RESTPostAPIInteractionCallbackWithResponseResult = {
      interaction: {
        id: i.id,
        type: InteractionType.ApplicationCommand,
        ...(i.original
          ? {
              response_message_id: i.original.id,
              response_message_loading: body.type === InteractionResponseType.DeferredChannelMessageWithSource,
              response_message_ephemeral: (flags & MessageFlags.Ephemeral) !== 0,
            }
          : {}),
      },
      ...(i.original ? { resource: { type: body.type, message: i.original } } : {}),
    };
    return [200, result];
  };

  const original = (i: InteractionRecord): APIMessage => {
    if (!i.original) throw new RestError(404, 10008, 'Unknown Message');
    return i.original;
  };

  const editOriginal = (i: InteractionRecord, body: unknown): APIMessage => {
    const current = original(i);
    if (!isRecord(body)) throw new RestError(400, 50035, 'Invalid Form Body');
    const next: APIMessage = {
      ...current,
      ...(typeof body.content === 'string' || body.content === null ? { content: body.content ?? '' } : {}),
      ...(Array.isArray(body.embeds) ? { embeds: body.embeds as APIMessage['embeds'] } : {}),
      ...(Array.isArray(body.components) ? { components: body.components as NonNullable<APIMessage['components']> } : {}),
      // The first edit of a deferred reply replaces the "thinking…" state.
      flags: (current.flags ?? 0) & ~MessageFlags.Loading,
      edited_timestamp: new Date().toISOString(),
    };
    i.original = next;
    record({ interactionId: i.id, kind: 'edit', type: null, data: body });
    return next;
  };

  const followUp = (i: InteractionRecord, body: unknown): APIMessage => {
    if (!i.acknowledged) throw new RestError(404, 10015, 'Unknown Webhook');
    if (!isRecord(body)) throw new RestError(400, 50035, 'Invalid Form Body');
    const flags = typeof body.flags === 'number' ? body.flags & MessageFlags.Ephemeral : 0;
    record({ interactionId: i.id, kind: 'follow-up', type: null, data: body });
    return message(i, body, flags);
  };

  const interact = (options: MainGatewayInteraction): MainGatewayInteractionHandle => {
    const guild = ctx.guild(options.guildId);
    if (!guild) throw new Error(`interact: unknown guild ${options.guildId}`);
    const command = [...(commands.get(options.guildId) ?? []), ...(commands.get('') ?? [])].find(
      (c) => c.name === options.name && c.type === ApplicationCommandType.ChatInput,
    );
    if (!command) throw new Error(`interact: no slash command "${options.name}" is registered (PUT /applications/:id/commands), globally or for guild ${options.guildId}`);
    const channel = options.channelId
      ? guild.channels.find((c) => c.id === options.channelId)
      : (guild.channels.find((c) => c.type === 0) ?? guild.channels[0]);
    if (!channel) throw new Error(`interact: no channel ${options.channelId ?? ''} in guild ${options.guildId}`);

    const declared = command.options ?? [];
    const given = options.options ?? {};
    for (const o of declared) {
      if ('required' in o && o.required && !(o.name in given)) throw new Error(`interact: /${command.name} needs option "${o.name}"`);
    }
    // Channel options carry the channel id; the channel itself goes in `resolved`, as on Discord.
    const resolvedChannels: Record<string, APIInteractionDataResolvedChannel> = {};
    const dataOptions = Object.entries(given).map(([name, value]): APIApplicationCommandInteractionDataBasicOption => {
      const def = declared.find((o) => o.name === name);
      if (!def) throw new Error(`interact: /${command.name} has no option "${name}"`);
      if (def.type === ApplicationCommandOptionType.Channel) {
        const target = guild.channels.find((c) => c.id === value);
        if (!target) throw new Error(`interact: option "${name}" of /${command.name} must be a channel id of guild ${options.guildId}`);
        resolvedChannels[target.id] = { ...target, permissions: PERMISSIONS } as APIInteractionDataResolvedChannel;
      }
      return { name, type: def.type, value } as APIApplicationCommandInteractionDataBasicOption;
    });

    const voice = guild.voiceState(options.userId);
    const id = snowflake();
    const token = `aW50ZXJhY3Rpb246${randomBytes(24).toString('base64url')}`;
    const profile = ctx.profile(options.userId);
    const user: APIUser = {
      id: options.userId,
      username: options.username ?? profile?.username ?? `user-${options.userId}`,
      discriminator: '0',
      global_name: options.username === undefined ? (profile?.globalName ?? null) : null, // a username given here replaces the profile
      avatar: null,
    };
    const payload: APIChatInputApplicationCommandGuildInteraction = {
      id,
      application_id: ctx.applicationId,
      type: InteractionType.ApplicationCommand,
      data: {
        id: command.id,
        name: command.name,
        type: ApplicationCommandType.ChatInput,
        ...(dataOptions.length > 0 ? { options: dataOptions } : {}),
        ...(Object.keys(resolvedChannels).length > 0 ? { resolved: { channels: resolvedChannels } } : {}),
        ...(command.guild_id ? { guild_id: command.guild_id } : {}),
      },
      guild: { id: options.guildId, locale: Locale.EnglishUS, features: [] },
      guild_id: options.guildId,
      channel,
      channel_id: channel.id,
      member: {
        user,
        nick: profile?.nick ?? null,
        avatar: null,
        roles: [],
        joined_at: new Date(0).toISOString(),
        premium_since: null,
        deaf: voice?.deaf ?? false,
        mute: voice?.mute ?? false,
        flags: 0 as GuildMemberFlags,
        pending: false,
        communication_disabled_until: null,
        permissions: PERMISSIONS,
      },
      token,
      version: 1,
      app_permissions: PERMISSIONS,
      locale: Locale.EnglishUS,
      guild_locale: Locale.EnglishUS,
      entitlements: [],
      authorizing_integration_owners: { [ApplicationIntegrationType.GuildInstall]: options.guildId },
      context: InteractionContextType.Guild,
      attachment_size_limit: 10 * 1024 * 1024,
    };
    interactions.set(id, { id, token, channelId: channel.id, createdAt: performance.now(), acknowledged: false, original: null });
    const delivered = ctx.dispatchToGuild(options.guildId, GatewayDispatchEvents.InteractionCreate, payload);
    return { id, token, delivered };
  };

  // ---- routing --------------------------------------------------------------------------

  const route = (req: http.IncomingMessage, path: string, query: URLSearchParams, body: unknown): [number, unknown] => {
    const method = req.method ?? 'GET';
    const parts = path
      .split('/')
      .filter(Boolean)
      .map((p) => {
        try {
          return decodeURIComponent(p); // clients send `@original` as `%40original`
        } catch {
          throw new RestError(404, 0, '404: Not Found');
        }
      });
    const is = (...pattern: string[]): boolean => parts.length === pattern.length && pattern.every((p, k) => p === '*' || p === parts[k]);
    const only = (...methods: string[]): void => {
      if (!methods.includes(method)) throw new RestError(405, 0, '405: Method Not Allowed');
    };

    if (is('gateway')) {
      only('GET');
      return [200, { url: ctx.gatewayBotInfo().url }];
    }
    if (is('gateway', 'bot')) {
      only('GET');
      requireBot(req);
      return [200, ctx.gatewayBotInfo()];
    }
    if (is('users', '@me')) {
      only('GET');
      requireBot(req);
      return [200, ctx.botUser];
    }
    if (is('applications', '*', 'commands') || is('applications', '*', 'guilds', '*', 'commands')) {
      only('GET', 'PUT');
      requireBot(req);
      if (parts[1] !== ctx.applicationId) throw new RestError(403, 50001, 'Missing Access');
      const key = parts.length === 5 ? parts[3] : '';
      if (key && !ctx.guild(key)) throw new RestError(403, 50001, 'Missing Access');
      return [200, method === 'PUT' ? overwriteCommands(key, body) : (commands.get(key) ?? [])];
    }
    if (is('interactions', '*', '*', 'callback')) {
      only('POST');
      return callback(interactionOf(parts[1], parts[2]), body, query.get('with_response') === 'true');
    }
    if (is('webhooks', '*', '*', 'messages', '@original')) {
      only('GET', 'PATCH', 'DELETE');
      const i = webhookOf(parts[1], parts[2]);
      if (method === 'GET') return [200, original(i)];
      if (method === 'PATCH') return [200, editOriginal(i, body)];
      original(i);
      i.original = null;
      record({ interactionId: i.id, kind: 'delete', type: null, data: null });
      return [204, null];
    }
    if (is('webhooks', '*', '*')) {
      only('POST');
      const sent = followUp(webhookOf(parts[1], parts[2]), body);
      return query.get('wait') === 'true' ? [200, sent] : [204, null];
    }
    throw new RestError(404, 0, '404: Not Found');
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://x');
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => {
      let status: number;
      let answer: unknown;
      try {
        if (tooLarge) throw new RestError(413, 40005, 'Request entity too large');
        if (!url.pathname.startsWith('/api/v10/')) throw new RestError(404, 0, '404: Not Found (the emulator implements API v10: /api/v10/…)');
        let body: unknown = null;
        if (size > 0) {
          if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
            throw new RestError(400, 50035, 'the emulator accepts JSON bodies only (no attachments)');
          }
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            throw new RestError(400, 50109, 'The request body contains invalid JSON.');
          }
        }
        [status, answer] = route(req, url.pathname.slice('/api/v10'.length), url.searchParams, body);
      } catch (err) {
        const e = err instanceof RestError ? err : new RestError(500, 0, '500: Internal Server Error');
        status = e.status;
        answer = { message: e.message, code: e.code };
      }
      let path = url.pathname;
      try {
        path = decodeURIComponent(path);
      } catch {
        // kept as sent
      }
      const request: MainGatewayRestRequest = { method: req.method ?? 'GET', path, status };
      requests.push(request);
      ctx.emit({ type: 'rest', request });
      if (status === 204) res.writeHead(204).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  };

  return {
    handle,
    requests: () => requests.map((r) => ({ ...r })),
    commands: (guildId) => structuredClone(commands.get(guildId ?? '') ?? []),
    interact,
    responses: (interactionId) => responses.filter((r) => interactionId === undefined || r.interactionId === interactionId).map((r) => structuredClone(r)),
  };
}
