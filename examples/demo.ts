/**
 * `npm run demo`: starts the embedded voice-server emulator, joins it as a bot, sends a
 * short tone over real UDP with real transport encryption, and prints what the emulator
 * received. (The full play pipeline — ffmpegSource → opusEncode → voiceSink — replaces
 * the hand-rolled sender below as it lands.)
 */
import * as dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { OpusEncoder } from '@discordjs/opus';
import WebSocket from 'ws';
import {
  createTransportCipher,
  encodeIpDiscoveryRequest,
  encodeRtpHeader,
  parseIpDiscovery,
  parseVoiceMessage,
  type VoiceMessage,
} from '../src/protocol';
import { dominantFrequency, generateTone, startVoiceServer } from '../src/testing';

async function main(): Promise<void> {
  const server = await startVoiceServer({ acceptAnySession: true });
  console.log(`emulator up: ${server.wsUrl} (udp ${server.udpPort})`);
  const ws = new WebSocket(server.wsUrl);
  const inbox: VoiceMessage[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (d) => {
    inbox.push(parseVoiceMessage(d.toString()));
    waiters.splice(0).forEach((w) => w());
  });
  const waitFor = async (op: number): Promise<VoiceMessage> => {
    for (;;) {
      const m = inbox.find((x) => x.op === op);
      if (m) return m;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ op: 0, d: { server_id: 'demo-guild', user_id: 'demo-bot', session_id: 'demo', token: 'demo', max_dave_protocol_version: 0 } }));
  const ready = (await waitFor(2)).d as { ssrc: number; ip: string; port: number; modes: string[] };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const ext = new Promise<{ address: string; port: number }>((r) => udp.once('message', (m) => r(parseIpDiscovery(m))));
  udp.send(encodeIpDiscoveryRequest(ready.ssrc), ready.port, ready.ip);
  const { address, port } = await ext;
  ws.send(JSON.stringify({ op: 1, d: { protocol: 'udp', data: { address, port, mode: ready.modes[0] } } }));
  const desc = (await waitFor(4)).d as { mode: string; secret_key: number[] };
  const cipher = createTransportCipher(desc.mode, Uint8Array.from(desc.secret_key));
  console.log(`ready: ssrc ${ready.ssrc}, mode ${desc.mode}, discovered ${address}:${port}`);

  const durationMs = 2000;
  const pcm = generateTone({ frequency: 440, durationMs });
  const encoder = new OpusEncoder(48000, 2);
  const start = performance.now();
  for (let i = 0; i < durationMs / 20; i++) {
    const wait = start + i * 20 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const opus = encoder.encode(pcm.subarray(i * 3840, (i + 1) * 3840));
    udp.send(cipher.seal(encodeRtpHeader({ sequence: i, timestamp: i * 960, ssrc: ready.ssrc }), opus, i), server.udpPort, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 100));
  const r = server.receivedFrom('demo-bot');
  if (!r) throw new Error('the emulator received nothing');
  console.log('emulator received:');
  console.log(`  duration ${r.durationMs} ms, frames ${r.frames}, lost ${r.lost}, decrypt failures ${r.decryptFailures}`);
  console.log(`  pacing |inter-arrival - 20 ms|: p50 ${r.pacing.p50.toFixed(2)} ms, p99 ${r.pacing.p99.toFixed(2)} ms, max ${r.pacing.max.toFixed(2)} ms`);
  console.log(`  dominant frequency ${dominantFrequency(r.pcm).toFixed(1)} Hz (sent 440 Hz)`);
  ws.close(1000);
  udp.close();
  await server.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
