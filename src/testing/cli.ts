#!/usr/bin/env node
/**
 * The voice-server emulator as a command: `rxvoice emulator` (installed package) or
 * `npm run emulator` (this repository). Starts one standing voice-server emulator that
 * accepts any session and token, prints its endpoint, and logs a line per session event
 * until Ctrl-C (SIGINT) or SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startVoiceServer } from './index';
import type { VoiceServerEvent } from './VoiceServer';
import { untilTerminated } from '../cli/untilTerminated';

export const EMULATOR_USAGE = `rxvoice emulator: a local Discord voice-server emulator (accepts any session and token)

Usage:
  rxvoice emulator [--dave] [--require-dave] [--channel ID] [--verbose]

Options:
  --dave            offer DAVE end-to-end encryption
  --require-dave    close sessions that do not negotiate DAVE
  --channel ID      the voice channel id clients connect with (their channelId), which is
                    the DAVE MLS group id; IDENTIFY carries no channel, so without it the
                    emulator takes each client's server id and DAVE only comes up for
                    clients whose channelId equals their serverId
  --verbose         also log heartbeats and every client message

Environment:
  RXVOICE_EMULATOR_HOST     the address to listen on (default 127.0.0.1)
  RXVOICE_EMULATOR_WAV_DIR  write what each sender sent as WAV files here

Prints the endpoint (as VOICE_SERVER_UPDATE gives it), the ws/wss URLs and the UDP port;
Ctrl-C stops it and prints what it received.
`;

function describe(e: VoiceServerEvent): string {
  const { type, ...rest } = e;
  return `${type.padEnd(18)} ${Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')}`;
}

/** Runs the emulator until SIGINT or SIGTERM; resolves with the exit status once it is closed. */
export async function runEmulator(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (line: string) => void = (line) => console.log(line),
  err$: (line: string) => void = (line) => console.error(line),
): Promise<number> {
  let values: { dave?: boolean; 'require-dave'?: boolean; channel?: string; verbose?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { dave: { type: 'boolean' }, 'require-dave': { type: 'boolean' }, channel: { type: 'string' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    err$(`rxvoice emulator: ${err instanceof Error ? err.message : String(err)}\n\n${EMULATOR_USAGE}`);
    return 2;
  }
  if (values.help) {
    out(EMULATOR_USAGE);
    return 0;
  }
  if (values.channel !== undefined && !/^\d{1,20}$/.test(values.channel)) {
    err$(`rxvoice emulator: --channel must be a Discord id (digits), got ${JSON.stringify(values.channel)}`);
    return 2;
  }
  const server = await startVoiceServer({
    host: env.RXVOICE_EMULATOR_HOST ?? '127.0.0.1',
    acceptAnySession: true,
    ...(values.channel !== undefined ? { anySessionChannelId: values.channel } : {}),
    requireDave: values['require-dave'] ?? false,
    dave: values.dave ?? false,
    wavDir: env.RXVOICE_EMULATOR_WAV_DIR,
  });
  const verbose = values.verbose ?? false;
  out('rxvoice voice-server emulator');
  out(`  endpoint (wss, as VOICE_SERVER_UPDATE gives it): ${server.endpoint}`);
  out(`  ws:  ${server.wsUrl}`);
  out(`  wss: ${server.wssUrl}  (self-signed certificate)`);
  out(`  udp: 127.0.0.1:${server.udpPort}`);
  out('  accepts any session id and token; Ctrl-C to stop (prints what it received)');
  if (values.dave) {
    out(
      values.channel !== undefined
        ? `  DAVE: MLS group id ${values.channel} (clients connect with channelId ${values.channel})`
        : "  DAVE: MLS group id = each client's server id (connect with channelId = serverId, or start with --channel ID)",
    );
  }
  server.events$.subscribe((e) => {
    if (!verbose && (e.type === 'heartbeat' || e.type === 'client-message')) return;
    out(`${new Date().toISOString()} ${describe(e)}`);
  });
  await untilTerminated();
  for (const r of server.received()) {
    out(
      `received ssrc=${r.ssrc} user=${r.userId} mode=${r.mode} frames=${r.frames} duration=${r.durationMs}ms ` +
        `lost=${r.lost} decryptFailures=${r.decryptFailures} e2eeFrames=${r.e2eeFrames} pacing p50=${r.pacing.p50.toFixed(2)}ms p99=${r.pacing.p99.toFixed(2)}ms`,
    );
  }
  await server.close();
  return 0;
}

if (require.main === module) {
  runEmulator(process.argv.slice(2))
    .then((status) => process.exit(status))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
