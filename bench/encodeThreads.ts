/**
 * Main-thread cost of transcoding with codec threads (issue 12): N streams of
 * `ffmpegSource(mp3).pipe(opusEncode({ bitrate: 96_000 }))`, each read by a null sink that
 * holds a 1 s lead (a `SinkDemand`, as `voiceSink` does) and takes one packet per 20 ms from
 * a shared timer, for `threads` = 0 (libopus on the main thread) and 2 (two codec threads).
 * Each setting runs in a fresh child process.
 *
 * Per run, in the window [start + 3 s, start + 3 s + WINDOW]:
 * - main thread CPU (`/proc/self/task/<pid>/stat`, utime + stime) and its event-loop
 *   utilisation (`performance.eventLoopUtilization()`),
 * - the whole process's CPU (`process.cpuUsage()`, every thread; not the ffmpeg children),
 * - the codec threads' event-loop utilisation (`worker.performance.eventLoopUtilization()`),
 * - per-frame encode latency (PCM frame in → its packet out of `opusEncode`), p50 / p99 / max,
 * - underruns: ticks where a sink had no packet although its source had not ended.
 *
 * Usage: ts-node --transpile-only bench/encodeThreads.ts [--n=25] [--seconds=10]
 */
import { fork } from 'node:child_process';
import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { tap } from 'rxjs';
import { SinkDemand, withDemand } from '../src/core/FrameDemand';
import { configureVoiceDriver } from '../src/driver/configureVoiceDriver';
import { codecPool } from '../src/driver/internal/CodecPool';
import { opusEncode } from '../src/operators/opusEncode';
import { ffmpegSource } from '../src/sources/ffmpegSource';
import { quantile, round } from './lib/common';
import { mp3Clip } from './lib/fixtures';

const arg = (name: string, fallback: number): number => {
  const a = process.argv.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : fallback;
};

const CLK_TCK = 100;
function mainThreadCpuMs(): number {
  const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime, stime
}

interface RunResult {
  threads: number;
  n: number;
  windowS: number;
  mainCpuPct: number;
  mainElu: number;
  processCpuPct: number;
  codecThreadElu: number[];
  latencyMs: { p50: number; p99: number; max: number };
  underruns: number;
  packets: number;
  /** Encoders on codec threads when the window began (N: every stream had moved to a thread). */
  encodersOnThreads: number;
}

async function child(threads: number, n: number, windowS: number): Promise<RunResult> {
  configureVoiceDriver({ threads });
  const clip = await mp3Clip(20);
  const queues: Buffer[][] = [];
  const demands: SinkDemand[] = [];
  const ended: boolean[] = [];
  const latencies: number[] = [];
  let measuring = false;
  let underruns = 0;
  let packets = 0;
  for (let i = 0; i < n; i++) {
    const demand = new SinkDemand(1000);
    const queue: Buffer[] = [];
    const sent: number[] = [];
    demands.push(demand);
    queues.push(queue);
    ended.push(false);
    withDemand(demand, () =>
      ffmpegSource(clip.path)
        .pipe(
          tap(() => sent.push(performance.now())),
          opusEncode({ bitrate: 96_000 }),
        )
        .subscribe({
          next: (packet) => {
            const t0 = sent.shift()!;
            if (measuring) latencies.push(performance.now() - t0);
            demand.received();
            queue.push(packet);
          },
          complete: () => (ended[i] = true),
          error: (err: unknown) => {
            console.error(err);
            process.exit(1);
          },
        }),
    );
  }
  const timer = setInterval(() => {
    for (let i = 0; i < n; i++) {
      if (queues[i].shift()) {
        demands[i].consume();
        if (measuring) packets++;
      } else if (measuring && !ended[i]) underruns++;
    }
  }, 20);

  await new Promise((r) => setTimeout(r, 3000));
  measuring = true;
  const workers = codecPool().workers();
  const encodersOnThreads = codecPool().stats().encoders;
  const elu0 = performance.eventLoopUtilization();
  const workerElu0 = workers.map((w) => w.performance.eventLoopUtilization());
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuMs();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, windowS * 1000));
  const wallMs = performance.now() - t0;
  const main1 = mainThreadCpuMs();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  const workerElu = workers.map((w, i) => w.performance.eventLoopUtilization(workerElu0[i]).utilization);
  measuring = false;
  clearInterval(timer);
  latencies.sort((a, b) => a - b);
  return {
    threads,
    n,
    windowS,
    mainCpuPct: round((100 * (main1 - main0)) / wallMs, 1),
    mainElu: round(elu.utilization, 3),
    processCpuPct: round((100 * (cpu.user + cpu.system)) / 1000 / wallMs, 1),
    codecThreadElu: workerElu.map((u) => round(u, 3)),
    latencyMs: { p50: round(quantile(latencies, 0.5), 2), p99: round(quantile(latencies, 0.99), 2), max: round(latencies[latencies.length - 1] ?? 0, 2) },
    underruns,
    packets,
    encodersOnThreads,
  };
}

async function main(): Promise<void> {
  const n = arg('n', 25);
  const windowS = arg('seconds', 10);
  const childThreads = arg('child', -1);
  if (childThreads >= 0) {
    const result = await child(childThreads, n, windowS);
    process.send!(result, () => process.exit(0));
    return;
  }
  await mp3Clip(20); // make the fixture once, outside the measured processes
  const results: RunResult[] = [];
  for (const threads of [0, 2]) {
    const result = await new Promise<RunResult>((resolve, reject) => {
      const c = fork(__filename, [`--child=${threads}`, `--n=${n}`, `--seconds=${windowS}`], { execArgv: ['-r', require.resolve('ts-node/register/transpile-only')] });
      c.on('message', (m) => resolve(m as RunResult));
      c.on('exit', (code) => code !== 0 && reject(new Error(`child exited ${code}`)));
    });
    console.log(JSON.stringify(result));
    results.push(result);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
