/**
 * The voice-server emulator of the benchmarks, in its own process so it is never the
 * client's bottleneck (on a 2-core machine: one core each).
 *
 * `startVoiceServer({ decode: false, maxKeptAudioMs: 0 })`, plus `onRtpDatagram`: every RTP
 * datagram's arrival is logged (CLOCK_MONOTONIC, sequence number, size) per SSRC, and only
 * 1 in `sampleEvery` packets (and each stream's first) is handed on to the emulator to be
 * decrypted — enough to prove the stream is valid, without the emulator's decrypt cost on
 * every packet. No Opus decode.
 *
 * IPC (`process.send`): → `{ type: 'ready', endpoint, wsUrl, certificate }`; ←
 * `{ cmd: 'report', id, prefix, window }` → `{ type: 'report', id, report }`; ←
 * `{ cmd: 'reset' }`; ← `{ cmd: 'speak', id, speakers: SpeakPlan[] }` → `{ type: 'spoke', id,
 * firstFrameAt }` (simulated users talking to the clients of a guild, for the recording
 * scenario); ← `{ cmd: 'close' }`.
 * Config: argv[2] JSON `{ sampleEvery?, dave? }`.
 */
import { OpusEncoder } from '@discordjs/opus';
import { startVoiceServer } from '../src/testing/startVoiceServer';
import type { VoiceServerOptions } from '../src/testing/VoiceServer';
import { monoMs, quantile } from './lib/common';

interface EmulatorConfig {
  sampleEvery?: number;
  /** Start the emulator with `dave: true` (DAVE negotiation), when it supports it. */
  dave?: boolean;
}

/**
 * A simulated user of the recording scenario: a tone whose period divides 20 ms (so one
 * encoded frame repeats without a click), `talkMs` of audio then `pauseMs` of nothing, over and
 * over, from `startAtMs` after the command for `totalMs` of wall-clock time (talk + pauses).
 */
export interface SpeakPlan {
  userId: string;
  ssrc: number;
  serverId: string;
  /** Hz; 20 ms must hold whole periods (50, 100, 250, 500, 750, 1000 …). */
  frequency: number;
  startAtMs: number;
  totalMs: number;
  talkMs: number;
  /** 0: talks without a pause. */
  pauseMs: number;
  /** RTP timestamps over a pause: `jump` (they track the sender's clock) or `frozen`. */
  timestamp: 'jump' | 'frozen';
}

/** One 20 ms Opus frame of a tone, after the encoder settled (repeating it is seamless). */
function toneFrame(frequency: number): Buffer {
  const encoder = new OpusEncoder(48000, 2);
  const pcm = Buffer.alloc(3840);
  let frame: Buffer = Buffer.alloc(0);
  for (let k = 0; k < 10; k++) {
    for (let i = 0; i < 960; i++) {
      const v = Math.round(0.3 * 32767 * Math.sin((2 * Math.PI * frequency * i) / 48000));
      pcm.writeInt16LE(v, i * 4);
      pcm.writeInt16LE(v, i * 4 + 2);
    }
    frame = encoder.encode(pcm);
  }
  return frame;
}

/** Size of a sealed Opus silence frame (12-byte header, 3 bytes, 16-byte tag, 4-byte nonce). */
const SILENCE_DATAGRAM = 12 + 3 + 16 + 4;

/** Arrival log of one SSRC. */
class Arrivals {
  n = 0;
  t = new Float64Array(256);
  seq = new Uint16Array(256);
  len = new Uint16Array(256);

  push(t: number, seq: number, len: number): void {
    if (this.n === this.t.length) {
      const grow = <A extends Float64Array | Uint16Array>(a: A, make: (n: number) => A): A => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.t = grow(this.t, (k) => new Float64Array(k));
      this.seq = grow(this.seq, (k) => new Uint16Array(k));
      this.len = grow(this.len, (k) => new Uint16Array(k));
    }
    this.t[this.n] = t;
    this.seq[this.n] = seq;
    this.len[this.n] = len;
    this.n++;
  }
}

export interface StreamSummary {
  userId: string;
  packets: number;
  audioFrames: number;
  silenceFrames: number;
  /** Sequence numbers missing between the first and the last packet. */
  lost: number;
  duplicates: number;
  reordered: number;
  firstArrival: number;
  lastArrival: number;
  /** |Δt − 20 ms × sequence step| inside the window, ms. */
  p50: number;
  p99: number;
  max: number;
  samples: number;
}

export interface EmulatorReport {
  streams: StreamSummary[];
  /** Pacing over every sample of every stream. */
  pooled: { p50: number; p99: number; max: number; count: number };
  /** Packets the emulator decrypted (sampled) and how many failed. */
  decrypted: number;
  decryptFailures: number;
  /** Emulator CPU inside the window, % of one core. */
  emulatorCpuPct: number;
  udpBadPackets: number;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as EmulatorConfig;
  const sampleEvery = config.sampleEvery ?? 20;
  const streams = new Map<number, Arrivals>();

  const onRtpDatagram = (msg: Buffer): boolean => {
    const t = monoMs();
    if (msg.length < 12) return true;
    const ssrc = msg.readUInt32BE(8);
    let a = streams.get(ssrc);
    if (!a) {
      a = new Arrivals();
      streams.set(ssrc, a);
    }
    a.push(t, msg.readUInt16BE(2), msg.length);
    return a.n % sampleEvery === 1 || sampleEvery === 1;
  };

  const options: VoiceServerOptions & Record<string, unknown> = {
    decode: false,
    maxKeptAudioMs: 0,
    acceptAnySession: true,
    onRtpDatagram,
    udpReceiveBufferSize: 4 * 1024 * 1024,
    // DAVE runs put two clients in each guild (an MLS group needs two); the emulator does not
    // relay their media to each other (only sending is measured).
    ...(config.dave ? { dave: true, relay: false } : {}),
  };
  const server = await startVoiceServer(options);

  // Own CPU, sampled every 100 ms (for the emulator's load inside a window).
  const cpu: Array<[number, number]> = [];
  const sampleCpu = (): void => {
    const u = process.cpuUsage();
    cpu.push([monoMs(), (u.user + u.system) / 1000]);
    if (cpu.length > 20_000) cpu.splice(0, 10_000);
  };
  setInterval(sampleCpu, 100).unref();
  sampleCpu();
  const cpuBetween = (from: number, to: number): number => {
    const a = cpu.find(([t]) => t >= from);
    const b = [...cpu].reverse().find(([t]) => t <= to);
    if (!a || !b || b[0] <= a[0]) return 0;
    return ((b[1] - a[1]) / (b[0] - a[0])) * 100;
  };

  const report = (prefix: string, window: { start: number; end: number } | null): EmulatorReport => {
    const received = server.received().filter((r) => r.userId.startsWith(prefix));
    const all: number[] = [];
    const summaries: StreamSummary[] = [];
    let decrypted = 0;
    let decryptFailures = 0;
    for (const r of received) {
      decrypted += r.frames;
      decryptFailures += r.decryptFailures;
      const a = streams.get(r.ssrc);
      if (!a) continue;
      const seen = new Set<number>();
      let ext = -1;
      let highest = -1;
      let first = -1;
      let duplicates = 0;
      let reordered = 0;
      let audioFrames = 0;
      let silenceFrames = 0;
      const devs: number[] = [];
      let prevT = -1;
      let prevExt = -1;
      for (let i = 0; i < a.n; i++) {
        const seq = a.seq[i];
        if (highest < 0) ext = seq;
        else {
          const d = ((seq - (highest & 0xffff) + 0x8000) & 0xffff) - 0x8000;
          ext = highest + d;
        }
        if (first < 0 || ext < first) first = ext;
        if (seen.has(ext)) {
          duplicates++;
          continue;
        }
        seen.add(ext);
        if (a.len[i] === SILENCE_DATAGRAM) silenceFrames++;
        else audioFrames++;
        if (highest >= 0 && ext < highest) {
          reordered++;
          continue;
        }
        highest = ext;
        const t = a.t[i];
        if (prevT >= 0) {
          const k = ext - prevExt;
          const inWindow = window === null || (prevT >= window.start && t <= window.end);
          if (inWindow && k >= 1 && k <= 50) {
            devs.push(Math.abs(t - prevT - 20 * k));
          }
        }
        prevT = t;
        prevExt = ext;
      }
      const span = highest - first + 1;
      devs.sort((x, y) => x - y);
      for (const d of devs) all.push(d);
      summaries.push({
        userId: r.userId,
        packets: a.n,
        audioFrames,
        silenceFrames,
        lost: Math.max(0, span - seen.size),
        duplicates,
        reordered,
        firstArrival: a.t[0],
        lastArrival: a.t[a.n - 1],
        p50: quantile(devs, 0.5),
        p99: quantile(devs, 0.99),
        max: devs.length ? devs[devs.length - 1] : 0,
        samples: devs.length,
      });
    }
    const sorted = Float64Array.from(all).sort();
    return {
      streams: summaries,
      pooled: { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.length ? sorted[sorted.length - 1] : 0, count: sorted.length },
      decrypted,
      decryptFailures,
      emulatorCpuPct: window ? cpuBetween(window.start, window.end) : 0,
      udpBadPackets: server.udpStats().badPackets,
    };
  };

  /** Runs the plans; resolves with each user's first-frame time (CLOCK_MONOTONIC ms). */
  const speak = async (plans: SpeakPlan[]): Promise<Record<string, number>> => {
    const firstFrameAt: Record<string, number> = {};
    await Promise.all(
      plans.map(async (plan) => {
        await new Promise((r) => setTimeout(r, plan.startAtMs));
        const frame = toneFrame(plan.frequency);
        const cycle = plan.talkMs + plan.pauseMs;
        // Audio (excluding pauses) that fits in totalMs, whole frames.
        const cycles = plan.pauseMs > 0 ? Math.floor(plan.totalMs / cycle) : 0;
        const tail = plan.pauseMs > 0 ? Math.min(plan.talkMs, plan.totalMs - cycles * cycle) : plan.totalMs;
        const audioFrames = Math.floor((cycles * plan.talkMs + tail) / 20);
        const pauses = [];
        for (let k = 1; plan.pauseMs > 0 && k * plan.talkMs < audioFrames * 20; k++) {
          pauses.push({ atMs: k * plan.talkMs, durationMs: plan.pauseMs, timestamp: plan.timestamp });
        }
        async function* frames(): AsyncGenerator<Uint8Array> {
          for (let i = 0; i < audioFrames; i++) {
            if (i === 0) firstFrameAt[plan.userId] = monoMs();
            yield frame;
          }
        }
        await server.speakAs({ userId: plan.userId, ssrc: plan.ssrc, serverId: plan.serverId, source: { opus: frames() }, pauses });
      }),
    );
    return firstFrameAt;
  };

  process.on('message', (msg: { cmd: string; id?: number; prefix?: string; window?: { start: number; end: number } | null; speakers?: SpeakPlan[] }) => {
    switch (msg.cmd) {
      case 'speak':
        speak(msg.speakers ?? []).then(
          (firstFrameAt) => process.send!({ type: 'spoke', id: msg.id, firstFrameAt }),
          (err: unknown) => {
            console.error(`emulator: speak failed: ${err instanceof Error ? err.message : String(err)}`);
            process.send!({ type: 'spoke', id: msg.id, firstFrameAt: {} });
          },
        );
        return;
      case 'report':
        process.send!({ type: 'report', id: msg.id, report: report(msg.prefix ?? '', msg.window ?? null) });
        return;
      case 'reset':
        streams.clear();
        server.resetReceived();
        process.send!({ type: 'reset-done', id: msg.id });
        return;
      case 'close':
        void server.close().then(() => process.exit(0));
        return;
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ type: 'ready', endpoint: server.endpoint, wsUrl: server.wsUrl, certificate: server.certificate, pid: process.pid });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
