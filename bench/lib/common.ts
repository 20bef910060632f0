/**
 * Shared helpers of the benchmark processes (orchestrator, emulator, clients).
 * Times that cross processes use CLOCK_MONOTONIC (`process.hrtime`), the same clock in every
 * process of the machine.
 */
import * as path from 'node:path';

/** Repository root. Works from `bench/lib` (ts-node) and from `bench/.tmp/js/bench/lib` (transpiled). */
export const ROOT = (() => {
  const fs = require('node:fs') as typeof import('node:fs');
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'rxvoice') return dir;
    if (path.dirname(dir) === dir) throw new Error('bench: repository root not found');
  }
})();
export const BENCH_DIR = path.join(ROOT, 'bench');
export const TMP_DIR = path.join(BENCH_DIR, '.tmp');
export const RESULTS_DIR = path.join(BENCH_DIR, 'results');

/** Monotonic milliseconds, comparable between processes on this machine. */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Quantile of an ascending array (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
}

/** Least-squares slope of y over x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export const round = (v: number, digits = 3): number => {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

/** CPU time of this process and of its reaped children (ffmpeg), ms, from /proc/self/stat. */
export function procCpuMs(): { selfMs: number; childrenMs: number } {
  const fs = require('node:fs') as typeof import('node:fs');
  try {
    const stat = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime = field 14, stime 15, cutime 16, cstime 17.
    const tick = 10; // USER_HZ = 100 on Linux
    const f = (n: number): number => Number(fields[n - 3]) * tick;
    return { selfMs: f(14) + f(15), childrenMs: f(16) + f(17) };
  } catch {
    const u = process.cpuUsage();
    return { selfMs: (u.user + u.system) / 1000, childrenMs: 0 };
  }
}

/** Pids of the live child processes of `pid`. */
export function liveChildPids(pid = process.pid): string[] {
  const fs = require('node:fs') as typeof import('node:fs');
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

/** Sums of CPU time (ms) of the live processes whose parent is `pid` (e.g. running ffmpegs). */
export function liveChildrenCpuMs(pid = process.pid): number {
  const fs = require('node:fs') as typeof import('node:fs');
  let total = 0;
  try {
    const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    for (const c of children) {
      try {
        const stat = fs.readFileSync(`/proc/${c}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        total += (Number(fields[14 - 3]) + Number(fields[15 - 3])) * 10;
      } catch {
        // exited meanwhile
      }
    }
  } catch {
    // no /proc
  }
  return total;
}

/** UDP receive-buffer overflows of the whole machine (/proc/net/snmp `RcvbufErrors`). */
export function udpRcvbufErrors(): number {
  const fs = require('node:fs') as typeof import('node:fs');
  try {
    const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')]);
  } catch {
    return 0;
  }
}

/**
 * CPU time of process `pid` (all its threads) and of its children (ffmpeg), ms, now, from
 * /proc: `selfMs` utime + stime of /proc/<pid>/stat; `childrenMs` the reaped children
 * (cutime + cstime there) plus the live ones (utime + stime of every child of any of its
 * threads, /proc/<pid>/task/<tid>/children). Differences of two readings are the CPU between
 * them (USER_HZ resolution, 10 ms per process). Readable from another process (no IPC: a
 * process whose event loop is blocked is measured on time).
 */
export function procTreeCpuMs(pid: number | 'self' = 'self'): { selfMs: number; childrenMs: number; liveChildren: number } {
  const fs = require('node:fs') as typeof import('node:fs');
  const times = (statPath: string): number[] => {
    const stat = fs.readFileSync(statPath, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime = field 14, stime 15, cutime 16, cstime 17; ticks of 10 ms.
    return [14, 15, 16, 17].map((n) => Number(fields[n - 3]) * 10);
  };
  let selfMs = NaN;
  let childrenMs = NaN;
  let liveChildren = 0;
  try {
    const [u, s, cu, cs] = times(`/proc/${pid}/stat`);
    selfMs = u + s;
    childrenMs = cu + cs;
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      let children: string[];
      try {
        children = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
      } catch {
        continue; // thread exited meanwhile
      }
      for (const c of children) {
        try {
          const [cu2, cs2] = times(`/proc/${c}/stat`);
          childrenMs += cu2 + cs2;
          liveChildren++;
        } catch {
          // exited meanwhile
        }
      }
    }
  } catch {
    // no /proc, or the process is gone
  }
  return { selfMs, childrenMs, liveChildren };
}

/** CPU time of this process's children (ffmpeg), ms, now: reaped and live (`procTreeCpuMs`). */
export function childrenCpuMsNow(): number {
  return procTreeCpuMs('self').childrenMs;
}
