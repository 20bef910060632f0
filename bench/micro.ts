/**
 * Micro-benchmarks (plain loops, `process.hrtime.bigint()`), run in a child process:
 *
 * - `seal`: per-packet cost of the RTP header + transport AEAD seal, both modes:
 *   rxvoice `RtpSender.packet` vs @discordjs/voice `Networking#createAudioPacket`
 *   (its XChaCha path runs in a second child with test/conformance/blockSodium.mjs, i.e.
 *   on @noble/ciphers, because sodium-native@5 breaks it).
 * - `tick`: one tick of the voice clock with N `voiceSink` listeners (each sends one packet:
 *   queue → RTP → AES-GCM seal → a no-op UDP send), N = 1, 100, 500; µs per tick.
 * - `send`: CPU of one `dgram` send of a 250-byte datagram from 100 sockets to a receiver in
 *   another process, 100 per 20 ms (what every packet of both libraries costs on loopback:
 *   the kernel's delivery to the receiving socket is charged to the sender).
 *
 * - `cipher`: the transport AEAD alone (`TransportCipher.seal` / `open`) of a 160-byte Opus
 *   payload behind a 12-byte RTP header (the rtpsize AAD), both modes, CPU µs per call (best
 *   of 7 rounds); `seal` also into a reused output buffer (what `voiceSink` does).
 *
 * Usage: node micro.js [seal|tick|send|cipher|djs-xchacha] → one JSON line on stdout.
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { BehaviorSubject, Observable } from 'rxjs';
import { frameSource } from '../src/sources/frameSource';
import { RtpSender } from '../src/core/RtpSender';
import type { ClockTick, VoiceClock } from '../src/core/VoiceClock';
import type { VoiceConnection } from '../src/gateway/connectVoice';
import { createTransportCipher, type EncryptionMode } from '../src/protocol/transportCrypto';
import { voiceSink } from '../src/sinks/voiceSink';

const PAYLOAD = randomBytes(240); // a 96 kb/s 20 ms Opus packet
const KEY = randomBytes(32);

/** `BENCH_QUICK=1` (smoke runs): a tenth of the iterations. */
const QUICK = process.env.BENCH_QUICK === '1';

function timeIt(iterationsFull: number, f: () => void): number {
  const iterations = QUICK ? Math.ceil(iterationsFull / 10) : iterationsFull;
  for (let i = 0; i < Math.min(20_000, iterations); i++) f(); // warm-up
  let best = Infinity;
  for (let round = 0; round < (QUICK ? 2 : 5); round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000 / iterations);
  }
  return best; // µs per call, best of 5 rounds (least disturbed by other processes)
}

/** As `timeIt`, in CPU time of this process (user + system): less disturbed by other processes on a busy machine. */
function cpuTimeIt(iterationsFull: number, f: () => void): number {
  const iterations = QUICK ? Math.ceil(iterationsFull / 10) : iterationsFull;
  for (let i = 0; i < Math.min(20_000, iterations); i++) f(); // warm-up
  let best = Infinity;
  for (let round = 0; round < (QUICK ? 2 : 7); round++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) f();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / iterations);
  }
  return best; // CPU µs per call, best of 7 rounds
}

function rxvoiceSeal(mode: EncryptionMode): number {
  const cipher = createTransportCipher(mode, KEY);
  const rtp = new RtpSender();
  return timeIt(100_000, () => rtp.packet(cipher, 0x1234, PAYLOAD));
}

/** @discordjs/voice: createAudioPacket (header + encryptOpusPacket + concat), with its sequence/timestamp steps. */
function djsSeal(mode: EncryptionMode): number {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const voice = require('@discordjs/voice') as { Networking: { prototype: Record<string, (...a: unknown[]) => unknown> } };
  const networking = voice.Networking.prototype;
  const data = { sequence: 1, timestamp: 0, ssrc: 0x1234, secretKey: new Uint8Array(KEY), encryptionMode: mode, nonce: 0, nonceBuffer: Buffer.alloc(mode === 'aead_aes256_gcm_rtpsize' ? 12 : 24) };
  return timeIt(mode === 'aead_aes256_gcm_rtpsize' ? 100_000 : 20_000, () => {
    networking.createAudioPacket.call(networking, PAYLOAD, data, undefined);
    data.sequence = (data.sequence + 1) & 0xffff;
    data.timestamp = (data.timestamp + 960) >>> 0;
  });
}

/** An endless Opus source that honours the sink's demand (as the real sources do), synchronously. */
function syntheticOpus(): Observable<Buffer> {
  return frameSource(() => PAYLOAD);
}

/** `TransportCipher` seal and open of a 160-byte payload (rtpsize: the 12-byte header is the AAD). */
function cipherCost(mode: EncryptionMode): { seal: number; sealReused: number; open: number } {
  const cipher = createTransportCipher(mode, KEY);
  const header = Buffer.from([0x80, 0x78, 0, 1, 0, 0, 0, 0, 0, 0, 0x12, 0x34]);
  const payload = randomBytes(160);
  const out = Buffer.allocUnsafe(2048);
  let nonce = 0;
  const seal = cpuTimeIt(100_000, () => cipher.seal(header, payload, ++nonce));
  const sealReused = cpuTimeIt(100_000, () => cipher.seal(header, payload, ++nonce, out));
  const packet = cipher.seal(header, payload, ++nonce);
  const open = cpuTimeIt(100_000, () => cipher.open(packet));
  return { seal, sealReused, open };
}

async function tickCost(n: number): Promise<{ n: number; usPerTick: number; usPerListener: number }> {
  const listeners = new Set<(t: ClockTick) => void>();
  const clock: VoiceClock = {
    frameMs: 20,
    now: () => performance.now(),
    add(onTick) {
      listeners.add(onTick);
      return () => listeners.delete(onTick);
    },
  };
  const cipher = createTransportCipher('aead_aes256_gcm_rtpsize', KEY);
  let sent = 0;
  const subs = [];
  for (let i = 0; i < n; i++) {
    const transport = { ssrc: i + 1, mode: cipher.mode, cipher, udp: { send: () => (sent++, true) }, e2ee: (x: Buffer) => x, toJSON: () => ({}) };
    const conn = { transport, state$: new BehaviorSubject({ status: 'ready' }), setSpeaking: () => undefined } as unknown as VoiceConnection;
    subs.push(syntheticOpus().pipe(voiceSink(conn, { clock })).subscribe());
  }
  const ticks = QUICK ? 50 : Math.max(200, Math.round(50_000 / n));
  let index = 0;
  const runTick = (): number => {
    const tick: ClockTick = { index, deadline: index * 20, now: performance.now(), skipped: 0 };
    index++;
    const t0 = process.hrtime.bigint();
    for (const l of listeners) l(tick);
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  for (let i = 0; i < 100; i++) runTick(); // warm-up
  const samples: number[] = [];
  for (let i = 0; i < ticks; i++) {
    samples.push(runTick());
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  for (const s of subs) s.unsubscribe();
  samples.sort((a, b) => a - b);
  const median = samples[samples.length >> 1];
  if (sent < n * ticks) throw new Error(`tick micro: only ${sent} packets for ${n} × ${ticks} ticks`);
  return { n, usPerTick: median, usPerListener: median / n };
}

/** CPU per datagram sent to another process (µs). */
async function sendCost(): Promise<number> {
  const receiver = fork(__filename, ['udp-receiver'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) => receiver.once('message', (p: number) => resolve(p)));
  const sockets = Array.from({ length: 100 }, () => dgram.createSocket('udp4'));
  await Promise.all(sockets.map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()))));
  const datagram = randomBytes(250);
  const ticks = QUICK ? 30 : 300;
  let best = Infinity;
  for (let round = 0; round < 2; round++) {
    const c0 = process.cpuUsage();
    for (let t = 0; t < ticks; t++) {
      for (const s of sockets) s.send(datagram, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 20));
    }
    const c = process.cpuUsage(c0);
    // Minus the timer wake-up per tick, measured alone below.
    best = Math.min(best, (c.user + c.system) / (ticks * sockets.length));
  }
  const c0 = process.cpuUsage();
  for (let t = 0; t < ticks; t++) await new Promise((r) => setTimeout(r, 20));
  const idle = process.cpuUsage(c0);
  for (const s of sockets) s.close();
  receiver.kill();
  return best - (idle.user + idle.system) / (ticks * sockets.length);
}

async function main(): Promise<void> {
  const part = process.argv[2] ?? 'seal';
  if (part === 'udp-receiver') {
    const rx = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
    rx.on('message', () => undefined);
    rx.bind(0, '127.0.0.1', () => process.send!(rx.address().port));
    process.on('disconnect', () => process.exit(0));
    return new Promise(() => undefined);
  }
  if (part === 'seal') {
    const out = {
      rxvoice: { aes: rxvoiceSeal('aead_aes256_gcm_rtpsize'), xchacha: rxvoiceSeal('aead_xchacha20_poly1305_rtpsize') },
      djs: { aes: djsSeal('aead_aes256_gcm_rtpsize') },
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else if (part === 'cipher') {
    const out = { aes: cipherCost('aead_aes256_gcm_rtpsize'), xchacha: cipherCost('aead_xchacha20_poly1305_rtpsize') };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else if (part === 'djs-xchacha') {
    // @discordjs/voice loads its XChaCha library with un-awaited imports: wait until it works.
    for (let i = 0; i < 500; i++) {
      try {
        djsSeal('aead_xchacha20_poly1305_rtpsize');
        break;
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('Cannot play audio')) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    process.stdout.write(`${JSON.stringify({ djs: { xchacha: djsSeal('aead_xchacha20_poly1305_rtpsize') } })}\n`);
  } else if (part === 'send') {
    process.stdout.write(`${JSON.stringify({ sendUs: await sendCost() })}\n`);
  } else if (part === 'tick') {
    const out = [];
    for (const n of (process.argv[3] ?? '1,100,500').split(',').map(Number)) out.push(await tickCost(n));
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
