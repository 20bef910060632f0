import * as os from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { FrameStats, Stats } from '../types';
import type { Session } from './session';

/** Frames expected per player per minute (one per 20 ms), as Lavalink's AudioLossCounter. */
const EXPECTED_PER_MINUTE = 3000;

/**
 * Node statistics (docs/api/websocket.md "Stats Object"): players, memory (bytes), CPU load
 * (fractions 0–1 of all cores), and frame stats averaged per playing player over the last
 * period, scaled to a minute.
 */
export class StatsCollector {
  private readonly startedAt = Date.now();
  private lastCpu = process.cpuUsage();
  private lastCpuAt = performance.now();
  private lastLoad = 0;
  /** Frame totals per player at the last frame-stats sample. */
  private lastFrames = new WeakMap<object, { sent: number; nulled: number; at: number }>();

  constructor(private readonly sessions: () => Iterable<Session>) {}

  /** The Stats object; `frameStats` only when `withFrames` (never for `GET /v4/stats`). */
  collect(withFrames: boolean): Stats {
    let players = 0;
    let playing = 0;
    for (const s of this.sessions()) {
      for (const p of s.players.values()) {
        players++;
        if (p.playing) playing++;
      }
    }
    const mem = process.memoryUsage();
    const heap = getHeapStatistics();
    const stats: Stats = {
      players,
      playingPlayers: playing,
      uptime: Date.now() - this.startedAt,
      memory: {
        free: Math.max(0, mem.heapTotal - mem.heapUsed),
        used: mem.heapUsed,
        allocated: mem.rss,
        reservable: heap.heap_size_limit,
      },
      cpu: { cores: os.availableParallelism(), systemLoad: this.systemLoad(), lavalinkLoad: this.processLoad() },
    };
    if (withFrames) stats.frameStats = this.frameStats();
    return stats;
  }

  private systemLoad(): number {
    const cores = os.availableParallelism();
    return Math.min(1, Math.max(0, os.loadavg()[0] / cores));
  }

  private processLoad(): number {
    const now = performance.now();
    const elapsedMs = now - this.lastCpuAt;
    if (elapsedMs >= 1000) {
      const usage = process.cpuUsage(this.lastCpu);
      this.lastLoad = Math.min(1, (usage.user + usage.system) / 1000 / elapsedMs / os.availableParallelism());
      this.lastCpu = process.cpuUsage();
      this.lastCpuAt = now;
    }
    return this.lastLoad;
  }

  /** Per playing player: frames sent and nulled since the last sample, scaled to a minute; null without data. */
  private frameStats(): FrameStats | null {
    const now = Date.now();
    let n = 0;
    let sent = 0;
    let nulled = 0;
    let deficit = 0;
    for (const s of this.sessions()) {
      for (const p of s.players.values()) {
        const totals = p.frameTotals();
        const last = this.lastFrames.get(p);
        // Windows of at least a second: a shorter one keeps the older sample.
        if (last && now - last.at < 1000) continue;
        this.lastFrames.set(p, { ...totals, at: now });
        if (!last || !p.playing) continue;
        const scale = 60_000 / (now - last.at);
        const ds = Math.max(0, totals.sent - last.sent) * scale;
        const dn = Math.max(0, totals.nulled - last.nulled) * scale;
        n++;
        sent += ds;
        nulled += dn;
        deficit += EXPECTED_PER_MINUTE - (ds + dn);
      }
    }
    if (n === 0) return null;
    return { sent: Math.round(sent / n), nulled: Math.round(nulled / n), deficit: Math.round(deficit / n) };
  }
}
