#!/usr/bin/env node
/**
 * The voice-server emulator as a command: `rxvoice emulator` (installed package) or
 * `npm run emulator` (this repository). Starts one standing voice-server emulator that
 * accepts any session and token, prints its endpoint, and logs a line per session event
 * until Ctrl-C (SIGINT) or SIGTERM.
 */
import { startVoiceServer } from './index';
import type { VoiceServerEvent } from './VoiceServer';
import { untilTerminated } from '../cli/untilTerminated';

export const EMULATOR_USAGE = `rxvoice emulator: a local Discord voice-server emulator (accepts any session and token)

Usage:
  rxvoice emulator [--dave] [--require-dave] [--verbose]

Options:
  --dave            offer DAVE end-to-end encryption (MLS group id = the server id)
  --require-dave    close sessions that do not negotiate DAVE
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
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out(EMULATOR_USAGE);
    return 0;
  }
  const server = await startVoiceServer({
    host: env.RXVOICE_EMULATOR_HOST ?? '127.0.0.1',
    acceptAnySession: true,
    requireDave: argv.includes('--require-dave'),
    // DAVE: the MLS group id is the server id here (any session is accepted, so no channel id is known).
    dave: argv.includes('--dave'),
    wavDir: env.RXVOICE_EMULATOR_WAV_DIR,
  });
  const verbose = argv.includes('--verbose');
  out('rxvoice voice-server emulator');
  out(`  endpoint (wss, as VOICE_SERVER_UPDATE gives it): ${server.endpoint}`);
  out(`  ws:  ${server.wsUrl}`);
  out(`  wss: ${server.wssUrl}  (self-signed certificate)`);
  out(`  udp: 127.0.0.1:${server.udpPort}`);
  out('  accepts any session id and token; Ctrl-C to stop (prints what it received)');
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
