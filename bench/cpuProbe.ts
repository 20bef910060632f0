/**
 * CPU per packet of one client process, quickly (the passthrough measurement of
 * `npm run bench`, alone, without the other scenarios): the emulator in its own process,
 * one rxvoice (or djs) client playing N streams of the 10 s Ogg Opus clip, client CPU in
 * the measuring window ÷ packets, split into user and system time (from /proc/<pid>/stat,
 * sampled every 100 ms, samples inside the client's window), packets counted at the emulator.
 *
 *   npx ts-node --transpile-only bench/cpuProbe.ts [--n=100] [--lib=rxvoice] [--runs=1] [--dave] [--prof] [--seconds=10] [--exec='--perf-basic-prof']
 *
 * `--prof`: the client runs with `node --cpu-prof` (bench/.tmp/profiles/probe) and the top
 * self-time functions are printed. Used for bench/cpu-per-packet.md.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findFfmpeg } from '../src/sources/findFfmpeg';
import { buildJs } from './lib/build';
import { BENCH_DIR, monoMs } from './lib/common';
import { oggClip } from './lib/fixtures';
import { benchFfmpeg, childEnv, runClient, startEmulator } from './lib/procs';
import { topSelfTime } from './lib/profile';

const arg = (name: string, dflt: string): string => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt;
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

const TICKS_PER_SECOND = 100; // USER_HZ

/** utime, stime of a process in clock ticks, or null once it is gone. */
function procTimes(pid: number): [number, number] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(f[11]), Number(f[12])];
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const n = Number(arg('n', '100'));
  const lib = arg('lib', 'rxvoice') as 'rxvoice' | 'djs';
  const runs = Number(arg('runs', '1'));
  const seconds = Number(arg('seconds', '10'));
  const dave = flag('dave');
  const prof = flag('prof');
  buildJs();
  const fixture = await oggClip(seconds);
  const env = childEnv(benchFfmpeg(findFfmpeg));
  const emulator = await startEmulator(dave ? { dave: true } : {}, env);
  try {
    for (let r = 0; r < runs; r++) {
      const profDir = path.join(BENCH_DIR, '.tmp', 'profiles', 'probe');
      if (prof) fs.rmSync(profDir, { recursive: true, force: true });
      const samples: Array<[number, number, number]> = [];
      let pid = 0;
      // runClient forks the client; find it as our newest child to sample its /proc times.
      const before = new Set(childPids());
      const sampler = setInterval(() => {
        if (!pid) pid = childPids().find((p) => !before.has(p)) ?? 0;
        const t = pid ? procTimes(pid) : null;
        if (t) samples.push([monoMs(), t[0], t[1]]);
      }, 100);
      const run = await runClient(
        {
          lib,
          runId: String(100 + r),
          endpoint: emulator.endpoint,
          n,
          input: { kind: 'ogg', path: fixture.path, durationMs: fixture.durationMs },
          mode: 'together',
          dave,
          pairs: dave,
        },
        env,
        [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...arg('exec', '').split(' ').filter(Boolean)],
      );
      clearInterval(sampler);
      const res = run.result;
      if (!res?.window) throw new Error(`client failed: ${run.exitCode} ${run.stderr}`);
      const secs = (res.window.end - res.window.start) / 1000;
      // Packets that arrived inside the window (the emulator's count: ticks skipped under load send fewer).
      const rep = await emulator.report(String(100 + r), res.window);
      const packets = rep.pooled.count + rep.streams.filter((x) => x.samples > 0).length;
      const inWin = samples.filter(([t]) => t >= res.window!.start && t <= res.window!.end);
      const first = inWin[0];
      const last = inWin[inWin.length - 1];
      const us = (ticks: number): number => ((ticks / TICKS_PER_SECOND) * 1e6) / (packets * ((last[0] - first[0]) / 1000 / secs));
      const out = {
        lib,
        n,
        dave,
        finished: res.finished,
        errors: res.errors.slice(0, 3),
        daveActive: res.extra.daveActive,
        packetsInWindow: packets,
        nominalPackets: Math.round(n * secs * 50),
        decryptFailures: rep.decryptFailures,
        pacingP99: rep.pooled.p99,
        usPerPacket: Math.round(((res.cpuMsInWindow * 1000) / packets) * 100) / 100,
        msPerStreamSecond: Math.round((res.cpuMsInWindow / n / secs) * 1000) / 1000,
        userUs: first && last ? Math.round(us(last[1] - first[1]) * 10) / 10 : null,
        sysUs: first && last ? Math.round(us(last[2] - first[2]) * 10) / 10 : null,
      };
      console.log(JSON.stringify(out));
      if (prof) {
        const file = fs.readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
        if (file) {
          const top = topSelfTime(path.join(profDir, file), 25);
          console.log(`busy ${Math.round(top.busyMs)} ms of ${Math.round(top.totalMs)} ms (${path.join(profDir, file)})`);
          for (const t of top.top) console.log(JSON.stringify(t));
        }
      }
    }
  } finally {
    await emulator.close();
  }
}

function childPids(): number[] {
  try {
    return fs
      .readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
