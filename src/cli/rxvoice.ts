#!/usr/bin/env node
/**
 * `rxvoice`: play a file into, or record from, a Discord voice channel.
 *
 *   rxvoice play   --guild ID --channel ID <file|url>... [--volume 0.8] [--seek 1:30] [--filter 'bass=g=5']
 *   rxvoice record --guild ID --channel ID [--out DIR] [--format wav|ogg] [--duration 60s]
 *   rxvoice node   [--config application.yml] [--port 2333] [--password PASS]   (a Lavalink v4 node)
 *   rxvoice emulator [--dave] [--verbose]   (rxvoice/testing's voice-server emulator)
 *
 * The token comes from `--token` or `DISCORD_TOKEN` and is never printed. The main
 * gateway is `@discordjs/ws`; the voice side is `joinVoiceChannelFrom`. See `--help`.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { joinVoiceChannelFrom } from '../gateway/joinVoiceChannelFrom';
import type { VoiceConnection, VoiceLogEntry } from '../gateway/connectVoice';
import type { ReadyState } from '../gateway/waitForReady';
import { RxVoiceError } from '../errors';
import { generateDependencyReport } from '../generateDependencyReport';
import { parseCliArgs, USAGE, type CommonArgs, type PlayArgs, type RecordArgs } from './args';
import { CliError } from './CliError';
import { connectDiscordGateway, type DiscordGateway } from './discordGateway';
import { preparePlay, runPlay } from './play';
import { runRecord } from './record';
import { runNode } from './node';
import { formatTime } from './time';

/** Streams and hooks the CLI runs with (tests may replace them). */
interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Whether stdout is a terminal (progress rewrites one line). */
  tty: boolean;
  /** The terminal's width in columns, when `tty`. */
  columns?: number;
}

/** Replaces every occurrence of the secrets in `text`. */
function redactor(secrets: readonly string[]): (text: string) => string {
  const list = secrets.filter((s) => s.length >= 4);
  return (text) => list.reduce((t, s) => t.split(s).join('[redacted]'), text);
}

/** The token as given on the command line or in the environment, for redaction before parsing succeeded. */
function tokenCandidates(argv: readonly string[], env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  argv.forEach((a, i) => {
    if (a === '--token' && argv[i + 1] !== undefined) found.push(argv[i + 1]);
    else if (a.startsWith('--token=')) found.push(a.slice('--token='.length));
  });
  if (env.DISCORD_TOKEN) found.push(env.DISCORD_TOKEN);
  return found.flatMap((t) => [t, t.trim()]);
}

/** SIGINT: each press calls the current handler; a second press (or one before a handler exists) exits with 130. */
class Interrupts {
  private handler: (() => void) | null = null;
  private presses = 0;
  private readonly listener = (): void => {
    this.presses++;
    if (this.handler && this.presses === 1) this.handler();
    else this.onForce();
  };

  constructor(private readonly onForce: () => void) {
    process.on('SIGINT', this.listener);
  }

  set(handler: () => void): void {
    this.handler = handler;
  }

  /** Removes the SIGINT listener (when `main` returns, so it can run in-process). */
  dispose(): void {
    process.off('SIGINT', this.listener);
  }
}

function rxvoiceVersion(): string {
  try {
    return (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function voiceLogger(io: Io, verbose: boolean): ((e: VoiceLogEntry) => void) | undefined {
  if (!verbose) return undefined;
  return (e) => io.err(`voice ${e.level}: ${e.message}${e.data ? ` ${JSON.stringify(e.data)}` : ''}`);
}

/** Connects the main gateway and joins the voice channel; on failure cleans up and throws a {@link CliError}. */
async function join(args: CommonArgs, io: Io, selfDeaf: boolean): Promise<{ gateway: DiscordGateway; conn: VoiceConnection; ready: ReadyState }> {
  const log = args.verbose ? (line: string) => io.err(line) : undefined;
  io.err(`connecting to the main gateway${args.gatewayUrl ? ` at ${args.gatewayUrl}` : ''}…`);
  const gateway = await connectDiscordGateway({ token: args.token, guildId: args.guildId, channelId: args.channelId, gatewayUrl: args.gatewayUrl, log });
  io.err(`logged in as user ${gateway.userId} (shard ${gateway.shardId}); joining channel ${args.channelId} of guild ${args.guildId}…`);
  const conn = joinVoiceChannelFrom({
    guildId: args.guildId,
    channelId: args.channelId,
    userId: gateway.userId,
    selfDeaf,
    dave: args.dave,
    ...(args.voiceCa ? { tls: { ca: args.voiceCa } } : {}),
    logger: voiceLogger(io, args.verbose),
    gateway: gateway.link,
  });
  try {
    const ready = await conn.ready(20_000);
    return { gateway, conn, ready };
  } catch (err) {
    conn.destroy();
    await gateway.flush();
    await gateway.destroy();
    const why =
      err instanceof RxVoiceError && err.code === 'READY_TIMEOUT'
        ? 'no voice server answered within 20 s (does the bot have the Connect permission? is the channel full?)'
        : err instanceof Error
          ? `${err.name}${err instanceof RxVoiceError ? ` ${err.code}` : ''}: ${err.message}`
          : String(err);
    throw new CliError('JOIN_FAILED', `could not join voice channel ${args.channelId} of guild ${args.guildId}: ${why}`, { cause: err });
  }
}

/** Leaves the channel (op 4 with channel_id null), waits for it to be written, closes the main gateway. */
async function leave(gateway: DiscordGateway, conn: VoiceConnection): Promise<void> {
  conn.destroy();
  await gateway.flush();
  await gateway.destroy();
}

async function play(args: PlayArgs, io: Io, interrupts: Interrupts): Promise<number> {
  const ffmpegPath = await preparePlay(args);
  const { gateway, conn, ready } = await join(args, io, true);
  try {
    io.err(`joined (ssrc ${ready.ssrc}, ${ready.mode}); playing ${args.inputs.join(', ')}`);
    let lastLength = 0;
    const done = await runPlay(
      conn,
      args,
      {
        progress: (line, final) => {
          if (io.tty) {
            io.out(`\r${line.padEnd(lastLength)}${final ? '\n' : ''}`);
            lastLength = line.length;
          } else io.out(`${line}\n`);
        },
        info: (line) => io.err(`${io.tty ? '\n' : ''}${line}`),
        onInterrupt: (h) => interrupts.set(h),
      },
      ffmpegPath,
    );
    io.err(
      `done: played ${formatTime(done.playedMs)} (${done.framesSent} frames, ${done.silenceFramesSent} silence frames, ` +
        `${done.framesLate} late, ${done.underruns} underruns${done.failed > 0 ? `, ${done.failed} input(s) failed` : ''}); leaving the channel`,
    );
    return 0;
  } finally {
    await leave(gateway, conn);
  }
}

async function record(args: RecordArgs, terminal: Io, interrupts: Interrupts): Promise<number> {
  // On a terminal the live block (stdout) is redrawn in place: the cursor goes up over the
  // previous block, each line is cleared and cut to the terminal's width (a wrapped line would
  // throw the count off), and what lies below is cleared. Any stderr line (--verbose logs too)
  // ends the block: the next one starts below it.
  let drawn = 0;
  const io: Io = {
    ...terminal,
    err: (line) => {
      drawn = 0;
      terminal.err(line);
    },
  };
  const width = Math.max(20, (terminal.columns ?? 80) - 1);
  const { gateway, conn, ready } = await join(args, io, false);
  let connectionError: Error | null = null;
  try {
    io.err(
      `joined (ssrc ${ready.ssrc}, ${ready.mode}); recording to ${args.outDir} (${args.format})` +
        `${args.durationMs !== null ? ` for ${formatTime(args.durationMs)}` : ''}; Ctrl-C to stop`,
    );
    const result = await runRecord(conn, args, {
      info: (line) => io.err(line),
      onInterrupt: (h) => interrupts.set(h),
      userName: (id) => gateway.userName(id),
      ...(io.tty
        ? {
            live: (lines: readonly string[]) => {
              const body = lines.map((l) => `\x1b[2K${l.length > width ? `${l.slice(0, width - 1)}…` : l}`).join('\n');
              io.out(`${drawn > 0 ? `\x1b[${drawn}F` : ''}${body}\n\x1b[J`);
              drawn = lines.length;
            },
          }
        : {}),
    });
    connectionError = result.connectionError;
    if (result.files.length === 0) io.err('nobody spoke: no files written');
    for (const f of result.files) {
      const name = gateway.userName(f.userId);
      io.out(`${f.path}\t${formatTime(f.durationMs)}\tuser ${f.userId}${name ? ` (${name})` : ''}\n`);
    }
  } finally {
    await leave(gateway, conn);
  }
  if (connectionError) throw new CliError('JOIN_FAILED', `the voice connection ended: ${connectionError.message}`, { cause: connectionError });
  return 0;
}

/**
 * `rxvoice emulator`: the voice-server emulator of `rxvoice/testing` (src/testing/cli.ts),
 * loaded only for this command: it needs the optional peer dependencies ts-mls,
 * @noble/curves and selfsigned, and names the missing ones.
 */
async function emulator(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let run: (argv: readonly string[], env: NodeJS.ProcessEnv, out: (line: string) => void, err: (line: string) => void) => Promise<number>;
  try {
    run = (await import('../testing/cli')).runEmulator;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MISSING_PEER_DEPENDENCY') {
      io.err(`rxvoice: ${(err as Error).message}`);
      return 1;
    }
    throw err;
  }
  return await run(argv, env, (line) => io.out(`${line}\n`), (line) => io.err(`${line}\n`));
}

/** Runs the CLI; resolves with the exit status. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  const redact = redactor(tokenCandidates(argv, env));
  const safe: Io = { out: (s) => io.out(redact(s)), err: (s) => io.err(redact(s)), tty: io.tty, ...(io.columns ? { columns: io.columns } : {}) };
  // The emulator handles SIGINT itself (it prints what it received, then exits 0).
  if (argv[0] === 'emulator') return await emulator(argv.slice(1), env, safe);
  const interrupts = new Interrupts(() => {
    safe.err('interrupted');
    process.exit(130);
  });
  let verbose = false;
  try {
    // `rxvoice node`: the Lavalink node has its own flags (src/cli/node.ts).
    if (argv[0] === 'node') return await runNode(argv.slice(1), safe);
    const args = parseCliArgs(argv, env);
    switch (args.command) {
      case 'help':
        safe.out(USAGE);
        return 0;
      case 'version':
        safe.out(`rxvoice ${rxvoiceVersion()}\n`);
        return 0;
      case 'report':
        safe.out(`${generateDependencyReport()}\n`);
        return 0;
      case 'play':
        verbose = args.verbose;
        return await play(args, safe, interrupts);
      case 'record':
        verbose = args.verbose;
        return await record(args, safe, interrupts);
    }
  } catch (err) {
    if (err instanceof CliError) {
      safe.err(`rxvoice: ${err.code}: ${err.message}`);
      return err.exitStatus;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    safe.err(`rxvoice: unexpected error: ${e.name}${e instanceof RxVoiceError ? ` ${e.code}` : ''}: ${e.message}`);
    if (verbose && e.stack) safe.err(e.stack);
    return 1;
  } finally {
    interrupts.dispose();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), process.env, {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(`${s}\n`),
    tty: process.stdout.isTTY === true,
    ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
  })
    .then((status) => process.exit(status))
    .catch((err: unknown) => {
      process.stderr.write(`rxvoice: ${err instanceof Error ? err.message : 'failed'}\n`);
      process.exit(1);
    });
}
