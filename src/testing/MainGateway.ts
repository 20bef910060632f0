import type { APIApplicationCommand } from 'discord-api-types/v10';
import type { Observable } from 'rxjs';
import type { VoiceServer } from './VoiceServer';

/** What the main-gateway emulator needs of a voice emulator (a {@link VoiceServer} is one). */
export type MainGatewayVoiceServer = Pick<VoiceServer, 'endpoint' | 'registerSession' | 'endSession'>;

/** A channel of an emulated guild. */
export interface MainGatewayChannel {
  id: string;
  /** Default `channel-<id>`. */
  name?: string;
  /** `voice` (type 2, the default), `stage` (13) or `text` (0). Only voice and stage channels can be joined. */
  type?: 'voice' | 'stage' | 'text';
  /** The voice server of this channel (default: the gateway's `voiceServer`): moving here reconnects to another server. */
  voiceServer?: MainGatewayVoiceServer;
}

/** Another member's voice state, present in GUILD_CREATE (`voice_states`). */
export interface MainGatewayVoiceState {
  userId: string;
  channelId: string;
  /** Default `session-<userId>`. */
  sessionId?: string;
  selfMute?: boolean;
  selfDeaf?: boolean;
}

/** A user's profile, for the member objects the emulator sends (GUILD_CREATE `members`, VOICE_STATE_UPDATE `member`). */
export interface MainGatewayUser {
  id: string;
  /** Default `user-<id>`. */
  username?: string;
  /** `user.global_name` (display name). Default null. */
  globalName?: string | null;
  /** The member's nickname in every guild. Default null. */
  nick?: string | null;
}

/** A guild the bot is in. */
export interface MainGatewayGuild {
  id: string;
  /** Default `guild-<id>`. */
  name?: string;
  /** Default: one voice channel `voice-<guild id>`. */
  channels?: MainGatewayChannel[];
  /** Other users already in voice channels. */
  voiceStates?: MainGatewayVoiceState[];
}

/** Options of {@link startMainGateway}. */
export interface MainGatewayOptions {
  /** The bot token IDENTIFY and RESUME must carry (a `Bot ` prefix is accepted). Anything else closes with 4004. */
  token: string;
  /** The bot's user id (READY `user.id`). Default `'100000000000000001'`. */
  botUserId?: string;
  /** The bot's username. Default `rxvoice-bot`. */
  botUsername?: string;
  /** Guilds sent as GUILD_CREATE after READY (when the GUILDS intent is requested). */
  guilds?: MainGatewayGuild[];
  /** Profiles of other users (names in member objects); users not listed are `user-<id>` without a nickname. */
  users?: MainGatewayUser[];
  /**
   * Voice server to hand out in VOICE_SERVER_UPDATE (unless the channel has its own): each
   * join registers the bot's voice session there first (`registerSession`, with the channel
   * id), and `endpoint` is its TLS `host:port`. When the bot leaves, is moved or is
   * disconnected, the voice session there ends with 4014 (`endSession`).
   */
  voiceServer?: MainGatewayVoiceServer;
  /** Endpoint to send instead of `voiceServer.endpoint`. Without either, `endpoint: null` (Discord: "waiting for a voice server"). */
  voiceEndpoint?: string;
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** `heartbeat_interval` in HELLO, ms. Default 41250 (what Discord sends). */
  heartbeatIntervalMs?: number;
  /** Close with 4009 when no heartbeat arrived for this long, ms. Default 2 × interval + 1000. */
  heartbeatTimeoutMs?: number;
  /** Privileged intents the application may request (bits); others close with 4014. Default 0. */
  allowedPrivilegedIntents?: number;
  /** How long a closed session stays resumable, ms. Default 60000. */
  resumeWindowMs?: number;
  /**
   * Also answer a minimal REST API (v10, JSON) on the same port, at `restUrl`
   * (`http://127.0.0.1:PORT/api`), for bot libraries such as discord.js (`rest: { api: restUrl }`):
   * `GET /gateway`, `GET /gateway/bot`, `GET /users/@me`, `GET|PUT /applications/:id/commands`
   * and `…/guilds/:id/commands` (bulk overwrite), `POST /interactions/:id/:token/callback`,
   * `GET|PATCH|DELETE /webhooks/:id/:token/messages/@original`, `POST /webhooks/:id/:token`
   * (follow-ups). Default false (plain HTTP requests get 426).
   */
  rest?: boolean;
  /** How long after INTERACTION_CREATE its callback is accepted, ms (later: 404 Unknown interaction, code 10062). Default 3000, as on Discord. */
  interactionResponseTimeoutMs?: number;
}

/** A user invoking a slash command, for {@link MainGateway.interact}. */
export interface MainGatewayInteraction {
  /** The command's name: it must have been registered (PUT …/commands), for the guild or globally. */
  name: string;
  /**
   * Option values by name. Their types come from the registered command; a required
   * option missing, or an option it does not declare, throws.
   */
  options?: Record<string, string | number | boolean>;
  guildId: string;
  /** The channel the command is invoked in. Default: the guild's first text channel, else its first channel. */
  channelId?: string;
  /**
   * The invoking member. Their voice state (what `member.voice.channel` reads) is the one in
   * the guild's `voiceStates` or set with `setVoiceState`.
   */
  userId: string;
  /** Default: the user's profile in the gateway's `users`, else `user-<userId>`. */
  username?: string;
}

/** An INTERACTION_CREATE the emulator sent, from {@link MainGateway.interact}. */
export interface MainGatewayInteractionHandle {
  id: string;
  /** The interaction token (callback and webhook routes). */
  token: string;
  /** Sessions that received the dispatch. */
  delivered: number;
}

/** What a bot answered to an interaction over REST. */
export interface MainGatewayInteractionResponse {
  interactionId: string;
  /**
   * `callback`: `POST /interactions/:id/:token/callback`; `edit`: `PATCH
   * /webhooks/:app/:token/messages/@original` (discord.js `editReply`); `follow-up`: `POST
   * /webhooks/:app/:token` (`followUp`); `delete`: `DELETE …/messages/@original`.
   */
  kind: 'callback' | 'edit' | 'follow-up' | 'delete';
  /** `callback`: the interaction response type (4 message, 5 deferred message, …); otherwise null. */
  type: number | null;
  /** `callback`: the body's `data`; `edit` and `follow-up`: the body; `delete`: null. */
  data: Record<string, unknown> | null;
  /** `data.content` when it is a string. */
  content: string | null;
}

/** A REST request the emulator answered (the Authorization header is never recorded). */
export interface MainGatewayRestRequest {
  method: string;
  /** Path without the query, e.g. `/api/v10/gateway/bot`. */
  path: string;
  status: number;
}

/** What an IDENTIFY carried (the token is never recorded, only whether it matched). */
export interface MainGatewayIdentify {
  intents: number;
  shard: [number, number] | null;
  properties: Record<string, unknown>;
  compress: boolean;
  /** Whether the token matched. */
  authenticated: boolean;
}

/** The `d` of an op 4 VOICE_STATE_UPDATE a client sent. */
export interface MainGatewayVoiceStateRequest {
  guild_id: string;
  channel_id: string | null;
  self_mute: boolean;
  self_deaf: boolean;
}

/** One line of the emulator's log, emitted on `events$`. */
export type MainGatewayEvent =
  | { type: 'socket-open'; remote: string; query: string }
  | { type: 'identify'; identify: MainGatewayIdentify; sessionId: string | null }
  | { type: 'resume'; sessionId: string; seq: number; ok: boolean; replayed: number }
  | { type: 'heartbeat'; seq: number | null; sessionId: string | null }
  | { type: 'voice-state-request'; sessionId: string; request: MainGatewayVoiceStateRequest; accepted: boolean; reason?: string }
  | { type: 'dispatch'; sessionId: string; t: string; s: number }
  | { type: 'client-message'; sessionId: string | null; op: number }
  | { type: 'close'; sessionId: string | null; code: number; reason: string; byServer: boolean }
  | { type: 'rest'; request: MainGatewayRestRequest }
  | { type: 'interaction-response'; response: MainGatewayInteractionResponse };

/** A gateway session as the emulator sees it. */
export interface MainGatewaySession {
  sessionId: string;
  intents: number;
  shard: [number, number];
  /** Open WebSocket right now. */
  connected: boolean;
  /** Last sequence number sent. */
  seq: number;
  /** The bot's voice channel per guild id (null: not in voice). */
  voiceChannels: Record<string, string | null>;
  identifies: number;
  resumes: number;
  heartbeats: number;
}

/**
 * A running emulator of Discord's main gateway (v10, JSON, no compression), from
 * {@link startMainGateway}.
 */
export interface MainGateway {
  /** `ws://127.0.0.1:PORT` (clients add `?v=10&encoding=json`). */
  readonly url: string;
  /** What `GET /gateway/bot` would return for this emulator (one shard), e.g. for @discordjs/ws. */
  gatewayBotInfo(): {
    url: string;
    shards: number;
    session_start_limit: { total: number; remaining: number; reset_after: number; max_concurrency: number };
  };
  /** Every event, as it happens. */
  readonly events$: Observable<MainGatewayEvent>;
  /** IDENTIFY payloads received, in order (without the token). */
  identifies(): MainGatewayIdentify[];
  /** Op 4 VOICE_STATE_UPDATE payloads (`d`) received, in order. */
  voiceStateRequests(): MainGatewayVoiceStateRequest[];
  /** Sessions (connected or resumable). */
  sessions(): MainGatewaySession[];
  /**
   * Sets another user's voice state (null channel: leaves) and dispatches
   * VOICE_STATE_UPDATE to the sessions that receive it (GUILD_VOICE_STATES intent).
   *
   * For the bot's own user id, while it is in voice in that guild, it is a moderator
   * dragging the bot to `channelId` (its voice session ends with 4014, then
   * VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE with a new token, the endpoint of that
   * channel's voice server) or disconnecting it with `null` (4014, then VOICE_STATE_UPDATE
   * with a null channel). Throws for an unknown guild, or an unknown or text channel for the bot.
   */
  setVoiceState(guildId: string, userId: string, channelId: string | null): void;
  /** Sends a dispatch to every identified session (or one). Returns how many got it. */
  dispatch(t: string, d: unknown, sessionId?: string): number;
  /** `http://127.0.0.1:PORT/api` with the `rest` option (discord.js: `rest: { api: restUrl }`), else null. */
  readonly restUrl: string | null;
  /** REST requests answered, in order. */
  restRequests(): MainGatewayRestRequest[];
  /** Commands registered by bulk overwrite: global ones, or a guild's. */
  commands(guildId?: string): APIApplicationCommand[];
  /**
   * A user invokes a registered slash command: sends INTERACTION_CREATE (type 2
   * APPLICATION_COMMAND, chat input) with the member, the channel and the options to the
   * sessions of the guild's shard. Its answers arrive over REST (`interactionResponses`).
   * Throws for an unknown guild, channel or command, or options that do not fit it.
   */
  interact(interaction: MainGatewayInteraction): MainGatewayInteractionHandle;
  /** Answers to interactions (all, or one's), in order. */
  interactionResponses(interactionId?: string): MainGatewayInteractionResponse[];
  /** Fault controls. */
  readonly faults: {
    /** Closes every client socket (or one session's) with `code`. */
    close(code: number, reason?: string, sessionId?: string): void;
    /** Stops (true) or resumes (false) answering heartbeats. */
    ignoreHeartbeats(ignore: boolean): void;
  };
  /** Stops the server and closes every socket. */
  close(): Promise<void>;
}
