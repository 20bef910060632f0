#!/usr/bin/env node
/**
 * `npm run emulator`: starts one standing voice-server emulator that accepts any session
 * and token, prints its endpoint, and logs a line per session event until Ctrl-C.
 */
import { startVoiceServer } from './startVoiceServer';
import type { VoiceServerEvent } from './VoiceServer';

function describe(e: VoiceServerEvent): string {
  const { type, ...rest } = e;
  return `${type.padEnd(18)} ${Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ')}`;
}

async function main(): Promise<void> {
  const port = process.env.RXVOICE_EMULATOR_HOST ?? '127.0.0.1';
  const server = await startVoiceServer({
    host: port,
    acceptAnySession: true,
    requireDave: process.argv.includes('--require-dave'),
    // DAVE: the MLS group id is the server id here (any session is accepted, so no channel id is known).
    dave: process.argv.includes('--dave'),
    wavDir: process.env.RXVOICE_EMULATOR_WAV_DIR,
  });
  const verbose = process.argv.includes('--verbose');
  console.log('rxvoice voice-server emulator');
  console.log(`  endpoint (wss, as VOICE_SERVER_UPDATE gives it): ${server.endpoint}`);
  console.log(`  ws:  ${server.wsUrl}`);
  console.log(`  wss: ${server.wssUrl}  (self-signed certificate)`);
  console.log(`  udp: 127.0.0.1:${server.udpPort}`);
  console.log('  accepts any session id and token; Ctrl-C to stop (prints what it received)');
  server.events$.subscribe((e) => {
    if (!verbose && (e.type === 'heartbeat' || e.type === 'client-message')) return;
    console.log(`${new Date().toISOString()} ${describe(e)}`);
  });
  const stop = async (): Promise<void> => {
    for (const r of server.received()) {
      console.log(
        `received ssrc=${r.ssrc} user=${r.userId} mode=${r.mode} frames=${r.frames} duration=${r.durationMs}ms ` +
          `lost=${r.lost} decryptFailures=${r.decryptFailures} e2eeFrames=${r.e2eeFrames} pacing p50=${r.pacing.p50.toFixed(2)}ms p99=${r.pacing.p99.toFixed(2)}ms`,
      );
    }
    await server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
