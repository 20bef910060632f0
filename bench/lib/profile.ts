/** Reads a V8 `.cpuprofile` (node --cpu-prof) and ranks functions by self time. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ROOT } from './common';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  /** `function (file:line)`, file relative to the repository (transpiled paths mapped back to `src/…`). */
  frame: string;
  selfMs: number;
  selfPct: number;
}

function shortUrl(url: string): string {
  let u = url.replace(/^file:\/\//, '');
  if (!u) return '';
  const js = `${path.join(ROOT, 'bench', '.tmp', 'js')}${path.sep}`;
  if (u.startsWith(js)) u = u.slice(js.length).replace(/\.js$/, '.ts');
  else if (u.startsWith(ROOT + path.sep)) u = u.slice(ROOT.length + 1);
  return u.replace(/^node_modules\//, '');
}

/** Frames that block without using CPU: counted as idle (rxvoice's clock sleeps its last ~1 ms in `Atomics.wait`). */
const BLOCKED = new Set(['(idle)', 'sleepPrecisely']);

/**
 * Self time per function (summed over the nodes of the same function), top `count`.
 * Idle time (waiting in the event loop, or blocked in the clock's precise sleep) is left
 * out; `(program)` and `(garbage collector)` stay in.
 */
export function topSelfTime(file: string, count = 10): { totalMs: number; busyMs: number; blockedMs: number; top: ProfileEntry[] } {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const byFrame = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let blocked = 0;
  for (const [id, us] of selfUs) {
    const { callFrame: cf } = byId.get(id)!;
    const name = cf.functionName || '(anonymous)';
    const where = shortUrl(cf.url);
    // Line numbers of transpiled files (src/, bench/) are the JavaScript's: left out.
    const transpiled = cf.url.includes(`${path.sep}.tmp${path.sep}js${path.sep}`);
    const frame = where ? `${name} (${where}${transpiled ? '' : `:${cf.lineNumber + 1}`})` : name;
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + us);
    total += us;
    if (BLOCKED.has(name)) idle += us;
    if (name === 'sleepPrecisely') blocked += us;
  }
  const busy = total - idle;
  const top = [...byFrame.entries()]
    .filter(([f]) => !BLOCKED.has(f.split(' (')[0]))
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([frame, us]) => ({ frame, selfMs: Math.round(us / 100) / 10, selfPct: Math.round((us / busy) * 1000) / 10 }));
  return { totalMs: total / 1000, busyMs: busy / 1000, blockedMs: blocked / 1000, top };
}
