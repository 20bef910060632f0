/**
 * A discord.js v14 bot that speaks and listens with rxvoice. Slash commands:
 *
 * - `/play <file>`: joins your voice channel and plays a file of the media folder;
 * - `/record`: joins your voice channel and records one WAV file per speaker into a new
 *   folder, until `/stop`;
 * - `/stop`: stops playing and recording, and leaves.
 *
 *   DISCORD_TOKEN=… npx ts-node examples/discordjsBot.ts [--media DIR] [--out DIR]
 *   npx ts-node examples/discordjsBot.ts --emulate [FILE] [--out DIR]
 *
 * With `--emulate` (or without DISCORD_TOKEN) it runs offline: it starts the voice-server
 * and main-gateway emulators in-process, points discord.js at them (REST: `rest: { api }`;
 * gateway: the URL `GET /gateway/bot` returns), acts as a user who types `/play FILE` (default:
 * the bundled speech) and `/stop`, then `/record` while two simulated users speak, and
 * `/stop` again — and prints what the emulators saw.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import {
  Client,
  Events,
  GatewayIntentBits,
  MessageFlags,
  SlashCommandBuilder,
  type ChatInputCommandInteraction,
  type ClientOptions,
  type Guild,
} from 'discord.js';
import { filter, firstValueFrom, lastValueFrom, mergeMap, Subject, takeUntil, throwError, timeout, toArray } from 'rxjs';
import {
  createPlaybackControl,
  ffmpegSource,
  jitterBuffer,
  joinVoiceChannel,
  opusDecode,
  opusEncode,
  voiceSink,
  wavFileSink,
  type JoinOptions,
  type PlaybackControl,
  type PlaybackProgress,
  type VoiceConnection,
  type WavFileResult,
} from '../src';
import { dominantFrequency, parseWav, startMainGateway, startVoiceServer } from '../src/testing';

export const commands = [
  new SlashCommandBuilder()
    .setName('play')
    .setDescription('Play an audio file in your voice channel')
    .addStringOption((o) => o.setName('file').setDescription('A file of the media folder').setRequired(true)),
  new SlashCommandBuilder().setName('record').setDescription('Record everyone in your voice channel, one file per speaker, until /stop'),
  new SlashCommandBuilder().setName('stop').setDescription('Stop playing and recording, and leave the channel'),
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

/** One guild's voice connection and what it is doing. */
interface GuildAudio {
  conn: VoiceConnection;
  channelId: string;
  ready: Promise<unknown>;
  playback: { control: PlaybackControl; done: Promise<PlaybackProgress | null> } | null;
  recording: { dir: string; stop$: Subject<void>; files: Promise<WavFileResult[]> } | null;
}

export interface Bot {
  client: Client<true>;
  /** Stops everything, leaves every channel, logs out. */
  destroy(): Promise<void>;
}

export async function startBot(options: BotOptions): Promise<Bot> {
  const log = options.log ?? ((line: string) => console.log(line));
  const client = new Client({ ...options.client, intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildVoiceStates] });
  const guilds = new Map<string, GuildAudio>();

  const join = async (guild: Guild, channelId: string): Promise<GuildAudio> => {
    const current = guilds.get(guild.id);
    if (current?.channelId === channelId) {
      await current.ready;
      return current;
    }
    if (current) await stop(guild.id);
    const conn = joinVoiceChannel({ ...options.voice, guildId: guild.id, channelId, selfDeaf: false, adapterCreator: guild.voiceAdapterCreator });
    const audio: GuildAudio = { conn, channelId, ready: conn.ready(), playback: null, recording: null };
    guilds.set(guild.id, audio);
    // Kicked, or the connection gave up: forget it (a recording's files are complete).
    conn.state$.pipe(filter((s) => s.status === 'destroyed' || s.status === 'disconnected')).subscribe((s) => {
      if (guilds.get(guild.id) !== audio) return;
      guilds.delete(guild.id);
      log(`[bot] voice connection in ${guild.name} ended: ${s.status}`);
      conn.destroy();
    });
    try {
      await audio.ready;
    } catch (err) {
      if (guilds.get(guild.id) === audio) guilds.delete(guild.id);
      conn.destroy();
      throw err;
    }
    return audio;
  };

  /** Stops playing and recording, and leaves; the recorded files, or null if not in a channel. */
  const stop = async (guildId: string): Promise<WavFileResult[] | null> => {
    const audio = guilds.get(guildId);
    if (!audio) return null;
    guilds.delete(guildId);
    audio.playback?.control.stop(); // five silence frames, speaking off, the sink completes
    audio.recording?.stop$.next(); // each speaker's file is finished and closed
    const [, files] = await Promise.all([audio.playback?.done, audio.recording?.files ?? []]);
    audio.conn.destroy(); // op 4 with channel_id null: leaves
    return files;
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
      const wrote = stopped?.length ? `; wrote ${stopped.length} recording(s) to ${path.dirname(stopped[0].path)}` : '';
      await i.editReply(stopped ? `Stopped${wrote}.` : 'Nothing to stop.');
      return;
    }
    const channel = i.member.voice.channel;
    if (!channel) {
      await i.reply({ content: 'Join a voice channel first.', flags: MessageFlags.Ephemeral });
      return;
    }
    if (i.commandName === 'play') {
      const file = mediaFile(i.options.getString('file', true));
      if (!file) {
        await i.reply({ content: 'No such file in the media folder.', flags: MessageFlags.Ephemeral });
        return;
      }
      await i.deferReply();
      const audio = await join(i.guild, channel.id);
      if (audio.playback) {
        audio.playback.control.stop(); // one stream at a time: the previous one ends first
        await audio.playback.done;
      }
      const control = createPlaybackControl();
      const done = lastValueFrom(ffmpegSource(file).pipe(opusEncode(), voiceSink(audio.conn, { control })), { defaultValue: null });
      const playback = { control, done: done.catch(() => null) };
      audio.playback = playback;
      done
        .then(
          (p) => log(`[bot] played ${path.basename(file)}: ${p?.positionMs ?? 0} ms`),
          (err: unknown) => log(`[bot] playback failed: ${err instanceof Error ? err.message : String(err)}`),
        )
        .finally(() => {
          if (audio.playback === playback) audio.playback = null;
        });
      await i.editReply(`Playing ${path.basename(file)} in ${channel.name}.`);
    } else if (i.commandName === 'record') {
      await i.deferReply();
      const audio = await join(i.guild, channel.id);
      if (!audio.recording) {
        const dir = path.join(options.recordingsDir, `${channel.id}-${Date.now()}`);
        mkdirSync(dir, { recursive: true });
        const stop$ = new Subject<void>();
        const taken = new Map<string, number>();
        const fileFor = (userId: string): string => {
          const n = (taken.get(userId) ?? 0) + 1; // a speaker who leaves and comes back gets a second file
          taken.set(userId, n);
          return path.join(dir, n === 1 ? `${userId}.wav` : `${userId}-${n}.wav`);
        };
        const files = lastValueFrom(
          audio.conn.speakers$.pipe(
            takeUntil(stop$),
            mergeMap((s) => s.packets$.pipe(takeUntil(stop$), jitterBuffer({ delayMs: 60 }), opusDecode(), wavFileSink(fileFor(s.userId)))),
            toArray(),
          ),
        );
        files.catch((err: unknown) => log(`[bot] recording failed: ${err instanceof Error ? err.message : String(err)}`));
        audio.recording = { dir, stop$, files };
      }
      await i.editReply(`Recording ${channel.name} into ${audio.recording.dir} until /stop.`);
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

  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  await client.login(options.token);
  const c = await ready;
  await c.application.commands.set(commands); // global commands (bulk overwrite)
  log(`[bot] logged in as ${c.user.username}; registered ${commands.map((x) => `/${x.name}`).join(', ')}`);
  return {
    client: c,
    destroy: async () => {
      await Promise.all([...guilds.keys()].map((id) => stop(id)));
      await c.destroy();
    },
  };
}

// ---- offline: both emulators in-process, a user typing commands --------------------------

const TOKEN = 'offline-bot-token';
const BOT = '100000000000000042';
const GUILD = '300000000000000001';
const VOICE = '300000000000000002';
const TEXT = '300000000000000003';
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
        ],
        voiceStates: [
          { userId: ALICE, channelId: VOICE },
          { userId: BOB, channelId: VOICE },
        ],
      },
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
  const command = async (name: string, values?: Record<string, string>): Promise<string> => {
    log(`alice › /${name}${values ? ` ${Object.values(values).join(' ')}` : ''}`);
    const sent = gateway.interact({ name, options: values, guildId: GUILD, channelId: TEXT, userId: ALICE, username: 'alice' });
    // The answer comes over REST: a deferred reply (no content), then an edit with the text.
    const e = await firstValueFrom(
      gateway.events$.pipe(
        filter((x) => x.type === 'interaction-response' && x.response.interactionId === sent.id && x.response.content !== null),
        timeout({ first: 15_000, with: () => throwError(() => new Error(`the bot did not answer /${name}`)) }),
      ),
    );
    const content = e.type === 'interaction-response' ? (e.response.content ?? '') : '';
    log(`bot   › ${content}`);
    return content;
  };

  try {
    await command('play', { file: path.basename(file) });
    await sleep(options.playMs ?? 1500);
    await command('stop');
    const ops = gateway.voiceStateRequests().map((r) => (r.channel_id ? `join ${r.channel_id} (self_deaf ${r.self_deaf})` : 'leave'));
    log(`[main gateway] op 4 from the bot: ${ops.join(', ')}`);
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
    for (const name of dir ? readdirSync(dir).sort() : []) {
      const wav = parseWav(readFileSync(path.join(dir!, name)));
      log(`[recording] ${name}: ${Math.round(wav.pcm.length / 192)} ms, ${Math.round(dominantFrequency(wav.pcm))} Hz`);
    }
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
