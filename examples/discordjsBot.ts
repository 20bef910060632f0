/**
 * A discord.js v14 bot that speaks and listens with rxvoice. Slash commands:
 *
 * - `/join`: joins your voice channel (or moves there);
 * - `/play <file>`: joins your voice channel — reusing the guild's connection — and queues a
 *   file of the media folder on the guild's player (it plays at once if nothing is playing);
 * - `/skip`: the next queued file, without a gap;
 * - `/record`: records the channel into a new folder until `/stop` (`recordVoiceChannel`): one
 *   WAV track per speaker, all on one timeline, and `recording.json` with their names and spurts;
 * - `/move <channel>`: moves the bot to another voice channel; what it plays goes on there;
 * - `/stop`: stops playing (and empties the queue) and recording;
 * - `/leave`: stops, and leaves the voice channel.
 *
 * One connection per guild, as with @discordjs/voice: every command calls `joinVoiceChannel`
 * (which returns the guild's live connection, moving it if needed) or `getVoiceConnection`.
 * Someone dragging the bot to another channel is followed; a moderator disconnecting it ends
 * the connection (`destroyed`, reason `disconnected-by-server`).
 *
 *   DISCORD_TOKEN=… npx ts-node examples/discordjsBot.ts [--media DIR] [--out DIR]
 *   npx ts-node examples/discordjsBot.ts --emulate [FILE] [--out DIR]
 *
 * With `--emulate` (or without DISCORD_TOKEN) it runs offline: it starts the voice-server
 * and main-gateway emulators in-process, points discord.js at them (REST: `rest: { api }`;
 * gateway: the URL `GET /gateway/bot` returns), acts as a user who types `/play FILE` (default:
 * the bundled speech) and `/stop`, then `/record` while two simulated users speak, `/stop`,
 * `/move` and `/leave` — and prints what the emulators saw.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  ChannelType,
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
  type ClientOptions,
  type Guild,
} from 'discord.js';
import { filter, firstValueFrom, lastValueFrom, skip, Subject, throwError, timeout } from 'rxjs';
import {
  createPlayer,
  getVoiceConnection,
  getVoiceConnections,
  joinVoiceChannel,
  recordVoiceChannel,
  type JoinOptions,
  type Player,
  type VoiceConnection,
  type RecordedFile,
  type RecordingManifest,
} from '../src';
import { dominantFrequency, parseWav, startMainGateway, startVoiceServer, type MainGateway, type MainGatewayInteraction } from '../src/testing';

export const commands = [
  new SlashCommandBuilder().setName('join').setDescription('Join your voice channel'),
  new SlashCommandBuilder()
    .setName('play')
    .setDescription('Play an audio file in your voice channel')
    .addStringOption((o) => o.setName('file').setDescription('A file of the media folder').setRequired(true)),
  new SlashCommandBuilder().setName('skip').setDescription('Skip to the next queued file'),
  new SlashCommandBuilder().setName('record').setDescription('Record everyone in your voice channel, one file per speaker, until /stop'),
  new SlashCommandBuilder()
    .setName('move')
    .setDescription('Move the bot to another voice channel (what it plays goes on)')
    .addChannelOption((o) =>
      o.setName('channel').setDescription('The voice channel').setRequired(true).addChannelTypes(ChannelType.GuildVoice, ChannelType.GuildStageVoice),
    ),
  new SlashCommandBuilder().setName('stop').setDescription('Stop playing and recording'),
  new SlashCommandBuilder().setName('leave').setDescription('Stop, and leave the voice channel'),
].map((c) => c.toJSON());

export interface BotOptions {
  token: string;
  /** `/play <file>` plays files inside this folder only. */
  mediaDir: string;
  /** `/record` writes into a new folder inside this one. */
  recordingsDir: string;
  /** More discord.js client options (offline: `rest: { api }`). */
  client?: Omit<ClientOptions, 'intents'>;
  /** More voice options (offline: `tls: { ca }` for the emulator's certificate). */
  voice?: Omit<Partial<JoinOptions>, 'guildId' | 'channelId'>;
  log?: (line: string) => void;
}

/** What the bot does in a guild besides being connected (the connection itself: `getVoiceConnection`). */
interface GuildActivity {
  /** The guild's queue of files (one player per connection). */
  player: Player | null;
  recording: { dir: string; stop$: Subject<void>; files: Promise<RecordedFile[]> } | null;
}

/**
 * The queue `/play` adds to: a player on the connection that logs what it plays. It ends
 * with the connection (an `error` event: e.g. a moderator disconnected the bot).
 */
export function createQueue(conn: VoiceConnection, log: (line: string) => void): Player {
  const player = createPlayer(conn);
  player.events$.subscribe((e) => {
    if (e.type === 'end' && e.reason !== 'failed') log(`[bot] played ${e.track.title}: ${e.positionMs} ms (${e.reason})`);
    else if (e.type === 'end') log(`[bot] could not play ${e.track.title}: ${e.error instanceof Error ? e.error.message : String(e.error)}`);
    else if (e.type === 'error') log(`[bot] playback failed: ${e.error.message}`);
  });
  return player;
}

export interface Bot {
  client: Client<true>;
  /** Stops everything, leaves every channel, logs out. */
  destroy(): Promise<void>;
}

export async function startBot(options: BotOptions): Promise<Bot> {
  const log = options.log ?? ((line: string) => console.log(line));
  const client = new Client({ ...options.client, intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates] });
  const activities = new Map<string, GuildActivity>();
  const activityOf = (guildId: string): GuildActivity => {
    let a = activities.get(guildId);
    if (!a) activities.set(guildId, (a = { player: null, recording: null }));
    return a;
  };
  /** Connections whose end is being watched. */
  const watched = new WeakSet<VoiceConnection>();

  /**
   * The guild's connection, ready in `channelId`: `joinVoiceChannel` returns the live one
   * (no second voice session) and moves it there if it is elsewhere.
   */
  const connectTo = async (guild: Guild, channelId: string): Promise<VoiceConnection> => {
    const existing = getVoiceConnection(guild.id);
    const conn = joinVoiceChannel({ ...options.voice, guildId: guild.id, channelId, selfDeaf: false, adapterCreator: guild.voiceAdapterCreator });
    if (!watched.has(conn)) {
      watched.add(conn);
      // Disconnected by a moderator, or the connection gave up: a recording's files are complete.
      conn.state$.pipe(filter((s) => s.status === 'destroyed' || s.status === 'disconnected')).subscribe((s) => {
        log(`[bot] voice connection in ${guild.name} ended: ${s.status === 'destroyed' ? `destroyed (${s.reason})` : `disconnected (${s.error.message})`}`);
        if (s.status === 'disconnected') conn.destroy();
        const a = activities.get(guild.id);
        a?.recording?.stop$.next();
        if (a?.player?.state.status === 'idle') a.player.destroy(); // a busy one reports the end itself (an `error` event)
        activities.delete(guild.id);
      });
    }
    if (existing && existing.channelId !== channelId) {
      // A move: the connection is still ready in the old channel; wait for the new one.
      await firstValueFrom(conn.state$.pipe(skip(1), filter((s) => s.status === 'ready' && conn.channelId === channelId), timeout(15_000)));
    } else {
      await conn.ready();
    }
    return conn;
  };

  /** Stops playing (emptying the queue) and recording, staying in the channel; the recording's folder and tracks, if one ran. */
  const stop = async (guildId: string): Promise<{ dir: string | null; files: RecordedFile[] } | null> => {
    const a = activities.get(guildId);
    const playing = a?.player && a.player.state.status !== 'idle';
    if (!a || (!playing && !a.recording)) return null;
    const recording = a.recording;
    a.recording = null;
    const idle = a.player ? firstValueFrom(a.player.events$.pipe(filter((e) => e.type === 'idle')), { defaultValue: null }) : null;
    if (playing) a.player?.stop(); // five silence frames, speaking off, the queue is emptied
    recording?.stop$.next(); // every track is finalized, recording.json written
    const [, files] = await Promise.all([playing ? idle : null, recording?.files.catch(() => []) ?? []]);
    return { dir: recording?.dir ?? null, files };
  };

  /** Stops, then leaves (op 4 without a channel); false if not connected. */
  const leave = async (guildId: string): Promise<boolean> => {
    await stop(guildId);
    activities.get(guildId)?.player?.destroy();
    activities.delete(guildId);
    const conn = getVoiceConnection(guildId);
    conn?.destroy(); // getVoiceConnection(guildId) is undefined from now on
    return conn !== undefined;
  };

  const mediaFile = (name: string): string | null => {
    const file = path.resolve(options.mediaDir, name);
    const inside = path.relative(options.mediaDir, file);
    return !inside.startsWith('..') && !path.isAbsolute(inside) && existsSync(file) ? file : null;
  };

  const handle = async (i: ChatInputCommandInteraction<'cached'>): Promise<void> => {
    if (i.commandName === 'stop') {
      await i.deferReply();
      const stopped = await stop(i.guildId);
      const wrote = !stopped?.dir ? '' : stopped.files.length ? `; wrote ${stopped.files.length} recording(s) to ${stopped.dir}` : `; nobody spoke (recording.json in ${stopped.dir})`;
      await i.editReply(stopped ? `Stopped${wrote}.` : 'Nothing to stop.');
      return;
    }
    if (i.commandName === 'leave') {
      await i.deferReply();
      const channel = i.guild.channels.cache.get(getVoiceConnection(i.guildId)?.channelId ?? '');
      await i.editReply((await leave(i.guildId)) ? `Left ${channel?.name ?? 'the voice channel'}.` : 'I am not in a voice channel.');
      return;
    }
    if (i.commandName === 'move') {
      const target = i.options.getChannel('channel', true, [ChannelType.GuildVoice, ChannelType.GuildStageVoice]);
      const conn = getVoiceConnection(i.guildId);
      if (!conn) {
        await i.reply({ content: 'I am not in a voice channel: /join first.', flags: MessageFlags.Ephemeral });
        return;
      }
      await i.deferReply();
      if (conn.channelId === target.id) {
        await i.editReply(`Already in ${target.name}.`);
        return;
      }
      await connectTo(i.guild, target.id);
      await i.editReply(`Moved to ${target.name}.`);
      return;
    }
    const channel = i.member.voice.channel;
    if (!channel) {
      await i.reply({ content: 'Join a voice channel first.', flags: MessageFlags.Ephemeral });
      return;
    }
    if (i.commandName === 'join') {
      await i.deferReply();
      const already = getVoiceConnection(i.guildId)?.channelId === channel.id;
      await connectTo(i.guild, channel.id);
      await i.editReply(already ? `Already in ${channel.name}.` : `Joined ${channel.name}.`);
    } else if (i.commandName === 'play') {
      const file = mediaFile(i.options.getString('file', true));
      if (!file) {
        await i.reply({ content: 'No such file in the media folder.', flags: MessageFlags.Ephemeral });
        return;
      }
      await i.deferReply();
      const conn = await connectTo(i.guild, channel.id);
      const activity = activityOf(i.guildId);
      activity.player ??= createQueue(conn, log);
      const ahead = activity.player.state.track ? 1 + activity.player.state.queue.length : 0;
      activity.player.enqueue({ source: file, title: path.basename(file) });
      await i.editReply(ahead === 0 ? `Playing ${path.basename(file)} in ${channel.name}.` : `Queued ${path.basename(file)} (${ahead} ahead).`);
    } else if (i.commandName === 'skip') {
      const player = activities.get(i.guildId)?.player;
      const current = player?.state.track;
      if (!player || !current) {
        await i.reply({ content: 'Nothing is playing.', flags: MessageFlags.Ephemeral });
        return;
      }
      player.skip();
      const next = player.state.track;
      await i.reply(next ? `Skipped ${current.title}; playing ${next.title}.` : `Skipped ${current.title}; the queue is empty.`);
    } else if (i.commandName === 'record') {
      await i.deferReply();
      const conn = await connectTo(i.guild, channel.id);
      const activity = activityOf(i.guildId);
      if (!activity.recording) {
        const dir = path.join(options.recordingsDir, `${channel.id}-${Date.now()}`);
        const stop$ = new Subject<void>();
        const guild = i.guild;
        // One track per speaker on one timeline (silence where they do not talk), named in recording.json.
        const files = lastValueFrom(
          recordVoiceChannel(conn, { directory: dir, format: 'wav', until: stop$, userName: (id) => guild.members.cache.get(id)?.displayName }),
        ).then((last) => (last.files ?? []).filter((f) => f.kind === 'track'));
        files.catch((err: unknown) => {
          log(`[bot] recording failed: ${err instanceof Error ? err.message : String(err)}`);
          if (activity.recording?.dir === dir) activity.recording = null; // a later /record tries again
        });
        activity.recording = { dir, stop$, files };
      }
      // A directory that cannot be written fails at once (SINK_FAILED): give the recording a moment to say so.
      await Promise.race([activity.recording.files.catch(() => undefined), new Promise((r) => setTimeout(r, 50))]);
      await i.editReply(activity.recording ? `Recording ${channel.name} into ${activity.recording.dir} until /stop.` : `Cannot record into ${options.recordingsDir}.`);
    }
  };

  client.on(Events.InteractionCreate, (i) => {
    if (!i.isChatInputCommand() || !i.inCachedGuild()) return;
    handle(i).catch(async (err: unknown) => {
      const content = `Failed: ${err instanceof Error ? err.message : String(err)}`;
      log(`[bot] /${i.commandName}: ${content}`);
      await (i.deferred || i.replied ? i.editReply(content) : i.reply({ content, flags: MessageFlags.Ephemeral })).catch(() => undefined);
    });
  });

  // Someone dragged the bot (or it moved itself): the connection follows on its own.
  client.on(Events.VoiceStateUpdate, (before, after) => {
    if (after.id !== client.user?.id || !after.channelId || before.channelId === after.channelId) return;
    if (getVoiceConnection(after.guild.id)) log(`[bot] now in ${after.channel?.name ?? after.channelId} (${after.guild.name})`);
  });

  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  await client.login(options.token);
  const c = await ready;
  await c.application.commands.set(commands); // global commands (bulk overwrite)
  log(`[bot] logged in as ${c.user.username}; registered ${commands.map((x) => `/${x.name}`).join(', ')}`);
  return {
    client: c,
    destroy: async () => {
      await Promise.all([...getVoiceConnections().keys()].map((id) => leave(id)));
      await c.destroy();
    },
  };
}

/**
 * Offline: a user invokes a slash command at the main-gateway emulator; resolves with the
 * bot's (last) answer, which comes over REST (a deferred reply, then an edit with the text).
 */
export async function slashCommand(gateway: MainGateway, interaction: MainGatewayInteraction, timeoutMs = 15_000): Promise<string> {
  const sent = gateway.interact(interaction);
  const e = await firstValueFrom(
    gateway.events$.pipe(
      filter((x) => x.type === 'interaction-response' && x.response.interactionId === sent.id && x.response.content !== null),
      timeout({ first: timeoutMs, with: () => throwError(() => new Error(`the bot did not answer /${interaction.name}`)) }),
    ),
  );
  return e.type === 'interaction-response' ? (e.response.content ?? '') : '';
}

// ---- offline: both emulators in-process, a user typing commands --------------------------

const TOKEN = 'offline-bot-token';
const BOT = '100000000000000042';
const GUILD = '300000000000000001';
const VOICE = '300000000000000002';
const TEXT = '300000000000000003';
const MUSIC = '300000000000000004';
const ALICE = '200000000000000001';
const BOB = '200000000000000002';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OfflineOptions {
  /** What `/play` plays. Default: the bundled speech. */
  file?: string;
  /** Where `/record` writes. Default `recordings`. */
  recordingsDir?: string;
  /** How long to play before `/stop`, ms. Default 1500. */
  playMs?: number;
  log?: (line: string) => void;
}

export async function runOffline(options: OfflineOptions = {}): Promise<void> {
  const log = options.log ?? ((line: string) => console.log(line));
  const file = path.resolve(options.file ?? path.join(__dirname, 'assets', 'speech.mp3'));
  const voice = await startVoiceServer();
  const gateway = await startMainGateway({
    token: TOKEN,
    botUserId: BOT,
    voiceServer: voice,
    rest: true,
    guilds: [
      {
        id: GUILD,
        name: 'rxvoice',
        channels: [
          { id: VOICE, name: 'General', type: 'voice' },
          { id: TEXT, name: 'bot-commands', type: 'text' },
          { id: MUSIC, name: 'Music', type: 'voice' },
        ],
        voiceStates: [
          { userId: ALICE, channelId: VOICE },
          { userId: BOB, channelId: VOICE },
        ],
      },
    ],
    users: [
      { id: ALICE, username: 'alice', globalName: 'Alice' },
      { id: BOB, username: 'bob', globalName: 'Bob' },
    ],
  });
  log(`[emulators] voice server ${voice.endpoint}; main gateway ${gateway.url}; REST ${gateway.restUrl}`);
  const bot = await startBot({
    token: TOKEN,
    mediaDir: path.dirname(file),
    recordingsDir: path.resolve(options.recordingsDir ?? 'recordings'),
    client: { rest: { api: gateway.restUrl! } },
    voice: { tls: { ca: voice.certificate } },
    log,
  });

  /** Alice types a command in #bot-commands; resolves with the bot's (last) answer. */
  const command = async (name: string, values?: Record<string, string>, shown?: string): Promise<string> => {
    log(`alice › /${name}${values ? ` ${shown ?? Object.values(values).join(' ')}` : ''}`);
    const content = await slashCommand(gateway, { name, options: values, guildId: GUILD, channelId: TEXT, userId: ALICE });
    log(`bot   › ${content}`);
    return content;
  };

  try {
    await command('play', { file: path.basename(file) });
    await sleep(options.playMs ?? 1500);
    await command('stop');
    const r = voice.receivedFrom(BOT);
    if (!r) throw new Error('the voice emulator received nothing from the bot');
    log(
      `[voice emulator] received from the bot: ${r.durationMs} ms of audio (${r.frames} frames, the last ${r.silenceFrames} silence), ` +
        `${Math.round(dominantFrequency(r.pcm))} Hz dominant, ${r.decryptFailures} decrypt failures, ${r.lost} lost`,
    );

    await command('record');
    log('[voice emulator] alice (440 Hz) and bob (660 Hz) speak for 1 s');
    await Promise.all([
      voice.speakAs({ userId: ALICE, ssrc: 1001, serverId: GUILD, source: { tone: { frequency: 440, durationMs: 1000 } } }),
      voice.speakAs({ userId: BOB, ssrc: 1002, serverId: GUILD, source: { tone: { frequency: 660, durationMs: 1000 } } }),
    ]);
    await sleep(200);
    const stopped = await command('stop');
    const dir = / to (.+)\.$/.exec(stopped)?.[1];
    const manifest = dir ? (JSON.parse(readFileSync(path.join(dir, 'recording.json'), 'utf8')) as RecordingManifest) : null;
    for (const name of dir ? readdirSync(dir).filter((f) => f.endsWith('.wav')).sort() : []) {
      const wav = parseWav(readFileSync(path.join(dir!, name)));
      const user = manifest?.users.find((u) => u.tracks.includes(name));
      const spurts = user?.spurts.map((x) => `${x.startMs}–${x.endMs} ms`).join(', ') ?? '';
      log(`[recording] ${name} (${user?.name ?? '?'}): ${Math.round(wav.pcm.length / 192)} ms, ${Math.round(dominantFrequency(wav.pcm))} Hz, talking ${spurts}`);
    }

    await command('move', { channel: MUSIC }, '#Music');
    await command('leave');
    const ops = gateway.voiceStateRequests().map((x) => (x.channel_id ? `join ${x.channel_id} (self_deaf ${x.self_deaf})` : 'leave'));
    log(`[main gateway] op 4 from the bot: ${ops.join(', ')}`);
    const sessions = voice.sessionHistory(BOT).map((x) => `${x.channelId} (ended ${x.endCode})`);
    log(`[voice emulator] voice sessions of the bot: ${sessions.length}: ${sessions.join(', ')}`);
    log(`[main gateway] interaction responses: ${gateway.interactionResponses().map((x) => (x.kind === 'callback' ? `callback ${x.type}` : x.kind)).join(', ')}`);
  } finally {
    await bot.destroy();
    await gateway.close();
    await voice.close();
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { emulate: { type: 'boolean' }, media: { type: 'string' }, out: { type: 'string' } },
  });
  const token = process.env.DISCORD_TOKEN;
  if (values.emulate || !token) {
    if (!values.emulate) console.log('no DISCORD_TOKEN: running offline against the emulators (--emulate)');
    await runOffline({ file: positionals[0], recordingsDir: values.out });
    return;
  }
  const bot = await startBot({ token, mediaDir: path.resolve(values.media ?? '.'), recordingsDir: path.resolve(values.out ?? 'recordings') });
  const quit = (): void => void bot.destroy().then(() => process.exit(0));
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
