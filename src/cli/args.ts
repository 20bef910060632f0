import { existsSync, readFileSync, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CliError } from './CliError';
import { parseTimeMs } from './time';

/** Options every command shares. */
export interface CommonArgs {
  token: string;
  guildId: string;
  channelId: string;
  /** `--gateway-url` (testing): connect to this main gateway instead of asking Discord. */
  gatewayUrl: string | null;
  /** `--voice-ca` (testing): PEM to trust for the voice server's TLS certificate. */
  voiceCa: string | null;
  /** `--no-dave` (testing, or channels that allow it): no DAVE end-to-end encryption. */
  dave: boolean;
  verbose: boolean;
}

export interface PlayArgs extends CommonArgs {
  command: 'play';
  /** Files or URLs, played in a row (gapless). */
  inputs: string[];
  volume: number | null;
  seekMs: number;
  filter: string | null;
}

export interface RecordArgs extends CommonArgs {
  command: 'record';
  outDir: string;
  format: 'wav' | 'flac' | 'ogg';
  /** `--mix`: also write `mix.<format>`. */
  mix: boolean;
  durationMs: number | null;
}

export type CliArgs =
  | PlayArgs
  | RecordArgs
  | { command: 'help'; topic: string | null }
  | { command: 'version' }
  | { command: 'report' };

export const USAGE = `rxvoice: play into and record from a Discord voice channel

Usage:
  rxvoice play   --guild ID --channel ID [--token TOKEN] <file|url>... [--volume 0.8] [--seek 1:30] [--filter 'bass=g=5']
  rxvoice record --guild ID --channel ID [--token TOKEN] [--out DIR] [--format wav|flac|ogg] [--mix] [--duration 60s]
  rxvoice report            versions of rxvoice's dependencies, ffmpeg and the active crypto
  rxvoice emulator [--dave] [--require-dave] [--verbose]
                            a local voice-server emulator (see rxvoice emulator --help)
  rxvoice node [--config FILE] [--port PORT] [--metrics]
                            a Lavalink v4-compatible audio node (see rxvoice node --help)
  rxvoice --help | --version

Options:
  --token TOKEN     the bot token; default: the DISCORD_TOKEN environment variable (preferred:
                    a token on the command line is visible to other users of the machine)
  --guild ID        the guild (server) id
  --channel ID      the voice channel id
  --verbose         log main-gateway and voice-connection events to stderr

play:
  <file|url>...     anything ffmpeg reads, one after the other without gaps; Ogg/WebM Opus
                    files are sent without re-encoding; a file that fails is reported and skipped
  --volume GAIN     linear gain, e.g. 0.8 (default 1)
  --seek TIME       start position in the first input: 90, 90s, 1:30, 1:02:03.5, 500ms
  --filter CHAIN    an ffmpeg audio filter chain (-af), e.g. 'bass=g=5,atempo=1.25'
  Prints a progress line (position / duration, frames late). Ctrl-C stops cleanly: five
  silence frames, leave the channel, exit 0 (a second Ctrl-C exits at once).

record:
  --out DIR         where to write one track per speaker (default ./recordings), all on one
                    timeline: each starts when the recording starts and is as long as it, with
                    silence where that speaker is silent; plus recording.json (talk spurts)
  --format FORMAT   wav (decoded, with packet-loss concealment; default), flac (the same,
                    lossless, through ffmpeg) or ogg (Opus as received, pauses as Opus silence)
  --mix             also write mix.<format>: every speaker mixed
  --duration TIME   stop after this long (default: until Ctrl-C)
  Joins undeafened (Discord sends no audio to a deafened bot), prints a line per speaker as
  they start and stop talking, then the files written.

For testing (against rxvoice/testing's emulators):
  --gateway-url URL a main gateway to connect to (ws://…), e.g. startMainGateway()'s url;
                    no request is made to Discord
  --voice-ca FILE   a PEM certificate to trust for the voice server (the emulator's self-signed one)
  --no-dave         do not offer DAVE end-to-end encryption (Discord requires it: close 4017)

Exit status: 0 done, 1 unexpected failure, 2 bad arguments, 3 authentication failed,
4 input or ffmpeg missing, 5 main gateway failure, 6 could not join the voice channel,
130 interrupted twice.
`;

const OPTIONS = {
  token: { type: 'string' },
  guild: { type: 'string' },
  channel: { type: 'string' },
  volume: { type: 'string' },
  seek: { type: 'string' },
  filter: { type: 'string' },
  out: { type: 'string' },
  format: { type: 'string' },
  duration: { type: 'string' },
  mix: { type: 'boolean' },
  'gateway-url': { type: 'string' },
  'voice-ca': { type: 'string' },
  'no-dave': { type: 'boolean' },
  verbose: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

const PLAY_ONLY = ['volume', 'seek', 'filter'] as const;
const RECORD_ONLY = ['out', 'format', 'duration', 'mix'] as const;

const bad = (message: string): CliError => new CliError('BAD_ARGUMENTS', `${message} (rxvoice --help)`);

/** A Discord id: a snowflake, 1–20 digits. */
const isSnowflake = (s: string): boolean => /^\d{1,20}$/.test(s);
/** Whether ffmpeg should open `input` as a URL rather than a local file. */
export const isUrl = (input: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(input);

/**
 * Parses the command line (`process.argv.slice(2)`) with `node:util` `parseArgs`.
 * The token comes from `--token` or `env.DISCORD_TOKEN`; it never appears in an error.
 *
 * @throws {CliError} `BAD_ARGUMENTS` with a message that names the flag.
 */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // parseArgs messages quote flag names, not values; still, never echo what follows --token.
    throw bad(err instanceof Error ? err.message.replace(/--token[= ]\S+/g, '--token …') : 'invalid arguments');
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.version) return { command: 'version' };
  if (values.help || command === 'help' || command === undefined) return { command: 'help', topic: command === 'help' ? (rest[0] ?? null) : (command ?? null) };
  if (command === 'report') {
    if (rest.length > 0) throw bad(`report takes no arguments`);
    return { command: 'report' };
  }
  if (command !== 'play' && command !== 'record') throw bad(`unknown command ${JSON.stringify(command)}; use play, record, report, emulator or node`);

  const misplaced = (command === 'play' ? RECORD_ONLY : PLAY_ONLY).filter((k) => values[k] !== undefined);
  if (misplaced.length > 0) throw bad(`--${misplaced[0]} is not an option of ${command}`);

  // Checked after the other arguments, so a mistake in those is named first.
  const token = values.token ?? env.DISCORD_TOKEN ?? '';
  const needToken = (): void => {
    if (token.trim() === '') throw bad('no bot token: pass --token or set DISCORD_TOKEN');
  };
  const guildId = values.guild;
  const channelId = values.channel;
  if (!guildId) throw bad('--guild ID is required');
  if (!channelId) throw bad('--channel ID is required');
  if (!isSnowflake(guildId)) throw bad(`--guild must be a Discord id (digits), got ${JSON.stringify(guildId)}`);
  if (!isSnowflake(channelId)) throw bad(`--channel must be a Discord id (digits), got ${JSON.stringify(channelId)}`);

  const gatewayUrl = values['gateway-url'] ?? null;
  if (gatewayUrl !== null && !/^wss?:\/\//i.test(gatewayUrl)) throw bad(`--gateway-url must be a ws:// or wss:// URL`);
  let voiceCa: string | null = null;
  if (values['voice-ca'] !== undefined) {
    try {
      voiceCa = readFileSync(values['voice-ca'], 'utf8');
    } catch {
      throw bad(`--voice-ca: cannot read ${JSON.stringify(values['voice-ca'])}`);
    }
    if (!voiceCa.includes('-----BEGIN CERTIFICATE-----')) throw bad(`--voice-ca: ${JSON.stringify(values['voice-ca'])} is not a PEM certificate`);
  }
  const common: CommonArgs = {
    token: token.trim(),
    guildId,
    channelId,
    gatewayUrl,
    voiceCa,
    dave: !values['no-dave'],
    verbose: values.verbose ?? false,
  };

  if (command === 'play') {
    if (rest.length === 0) throw bad('play needs a file or URL');
    const inputs = rest;
    // A queue plays what it can (a missing file is reported and skipped when its turn comes);
    // only when no input could play at all does the command stop here.
    const problem = (input: string): string | null =>
      isUrl(input) ? null : !existsSync(input) ? `no such file: ${input}` : !statSync(input).isFile() ? `not a file: ${input}` : null;
    const problems = inputs.map(problem);
    if (problems.every((p) => p !== null)) throw new CliError('INPUT_FAILED', problems.join('; '));
    let volume: number | null = null;
    if (values.volume !== undefined) {
      volume = Number(values.volume);
      if (values.volume.trim() === '' || !Number.isFinite(volume) || volume < 0 || volume > 10) {
        throw bad(`--volume must be a number from 0 to 10 (1 = unchanged), got ${JSON.stringify(values.volume)}`);
      }
    }
    let seekMs = 0;
    if (values.seek !== undefined) {
      const t = parseTimeMs(values.seek);
      if (t === null) throw bad(`--seek must be a time like 90, 90s, 1:30 or 500ms, got ${JSON.stringify(values.seek)}`);
      seekMs = t;
    }
    const filter = values.filter ?? null;
    if (filter !== null && filter.trim() === '') throw bad('--filter must not be empty');
    needToken();
    return { command: 'play', ...common, inputs, volume, seekMs, filter };
  }

  if (rest.length > 0) throw bad(`record takes no positional arguments, got ${JSON.stringify(rest[0])}`);
  const format = values.format ?? 'wav';
  if (format !== 'wav' && format !== 'flac' && format !== 'ogg') throw bad(`--format must be wav, flac or ogg, got ${JSON.stringify(format)}`);
  let durationMs: number | null = null;
  if (values.duration !== undefined) {
    durationMs = parseTimeMs(values.duration);
    if (durationMs === null || durationMs <= 0) throw bad(`--duration must be a time like 60s, 2m or 1:30, got ${JSON.stringify(values.duration)}`);
  }
  needToken();
  return { command: 'record', ...common, outDir: values.out ?? 'recordings', format, mix: values.mix ?? false, durationMs };
}
