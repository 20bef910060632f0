import type { ServerResponse } from 'node:http';
import { voiceDriverStats, type VoiceDriverStats } from '../../../driver/voiceDriverStats';
import { createNodeMetrics, type NodeMetrics } from '../metrics';
import type { Session } from './session';
import type { StatsCollector } from './stats';

/** Frames per player per second (one per 20 ms). */
const EXPECTED_PER_SECOND = 50;
/** How often players' frame counters are sampled, ms. */
const SAMPLE_MS = 1000;

/**
 * Feeds the node's Prometheus metrics (`createNodeMetrics`) with real numbers and serves
 * them: players and playing players, memory and CPU (the `stats` op's figures), frames sent
 * and nulled (running totals sampled every second from every player, so a destroyed player's
 * last second may be missed), the frame deficit over the window since the previous scrape
 * (per playing player, per minute, as Lavalink's `frameStats.deficit`), and the driver's
 * pacing p99 over the same window (`voiceDriverStats`).
 */
export class NodeMetricsFeed {
  private readonly metrics: NodeMetrics = createNodeMetrics();
  private readonly last = new WeakMap<object, { sent: number; nulled: number }>();
  private sentTotal = 0;
  private nulledTotal = 0;
  /** Playing-player seconds expected and frames got (sent + nulled) since the last scrape. */
  private expected = 0;
  private got = 0;
  private lastSampleAt = performance.now();
  private lastDriver: VoiceDriverStats | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly sessions: () => Iterable<Session>,
    private readonly stats: StatsCollector,
  ) {
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  /** Stops sampling. */
  close(): void {
    clearInterval(this.timer);
  }

  /** Answers a scrape: Prometheus text format 0.0.4. */
  async respond(res: ServerResponse): Promise<void> {
    this.sample();
    const s = this.stats.collect(false);
    const driver = await voiceDriverStats({ since: this.lastDriver });
    this.lastDriver = driver;
    const deficit = this.expected > 0 ? Math.round((EXPECTED_PER_SECOND * 60 * Math.max(0, this.expected - this.got)) / this.expected) : 0;
    this.expected = 0;
    this.got = 0;
    this.metrics.update({
      players: s.players,
      playingPlayers: s.playingPlayers,
      uptimeMs: s.uptime,
      framesSentTotal: this.sentTotal,
      framesNulledTotal: this.nulledTotal,
      frameDeficit: deficit,
      ...(driver.sendLatenessMs ? { pacingP99Ms: driver.sendLatenessMs.p99 } : {}),
      cpuCores: s.cpu.cores,
      systemLoad: s.cpu.systemLoad,
      processLoad: s.cpu.lavalinkLoad,
      memoryFreeBytes: s.memory.free,
      memoryUsedBytes: s.memory.used,
      memoryAllocatedBytes: s.memory.allocated,
      memoryReservableBytes: s.memory.reservable,
    });
    const text = await this.metrics.text();
    res.writeHead(200, { 'Content-Type': this.metrics.contentType, 'Content-Length': Buffer.byteLength(text), 'Lavalink-Api-Version': '4' });
    res.end(text);
  }

  /** Adds every player's frames since the last sample to the running totals. */
  private sample(): void {
    const now = performance.now();
    const seconds = (now - this.lastSampleAt) / 1000;
    this.lastSampleAt = now;
    for (const session of this.sessions()) {
      for (const p of session.players.values()) {
        const t = p.frameTotals();
        const seen = this.last.get(p);
        this.last.set(p, t);
        // A player's counts start at 0: first seen, all of them are new.
        const before = seen ?? { sent: 0, nulled: 0 };
        const ds = Math.max(0, t.sent - before.sent);
        const dn = Math.max(0, t.nulled - before.nulled);
        this.sentTotal += ds;
        this.nulledTotal += dn;
        if (seen && p.playing) {
          this.expected += seconds;
          this.got += (ds + dn) / EXPECTED_PER_SECOND;
        }
      }
    }
  }
}
