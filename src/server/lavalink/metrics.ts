/**
 * The node's `/metrics`: Prometheus text exposition with prom-client, in a registry of its own.
 */

import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/**
 * One reading of the node, plain numbers; every field optional (what is absent keeps its
 * last value). Shapes follow Lavalink's Stats object (websocket.md "Stats Object").
 */
export interface NodeMetricsSnapshot {
  /** Players on the node. */
  players?: number;
  /** Players playing a track (not paused, a track loaded). */
  playingPlayers?: number;
  /** Node uptime, ms. */
  uptimeMs?: number;
  /** Opus frames sent to voice servers since the node started (a running total; decreases are ignored). */
  framesSentTotal?: number;
  /** Frames that had no audio to send (silence/nulled) since the node started (a running total). */
  framesNulledTotal?: number;
  /** Lavalink's `frameStats.deficit`: expected minus sent frames over the last minute, per-player average. */
  frameDeficit?: number;
  /** 99th percentile of the send pacing error (late sends) over the last interval, ms. */
  pacingP99Ms?: number;
  /** Logical CPU cores. */
  cpuCores?: number;
  /** System CPU load, 0–1 (Lavalink's `cpu.systemLoad`). */
  systemLoad?: number;
  /** This process's CPU load, 0–1 of all cores (Lavalink's `cpu.lavalinkLoad`). */
  processLoad?: number;
  /** Lavalink's `memory.free`, bytes. */
  memoryFreeBytes?: number;
  /** Lavalink's `memory.used`, bytes. */
  memoryUsedBytes?: number;
  /** Lavalink's `memory.allocated`, bytes. */
  memoryAllocatedBytes?: number;
  /** Lavalink's `memory.reservable`, bytes. */
  memoryReservableBytes?: number;
}

/** Options of {@link createNodeMetrics}. */
export interface NodeMetricsOptions {
  /**
   * Also expose prom-client's default process and Node.js metrics (`process_cpu_seconds_total`,
   * `process_resident_memory_bytes`, `nodejs_eventloop_lag_*`, heap, GC …) in this registry.
   * Default true.
   */
  defaultMetrics?: boolean;
}

/** What {@link createNodeMetrics} returns. */
export interface NodeMetrics {
  /** The registry holding these metrics (not prom-client's global one). */
  readonly registry: Registry;
  /** The `Content-Type` to serve {@link NodeMetrics.text} with (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** Records a reading; absent fields keep their value, running totals advance by their increase. */
  update(snapshot: NodeMetricsSnapshot): void;
  /** The exposition text (`# HELP`, `# TYPE`, samples) of every metric in the registry. */
  text(): Promise<string>;
}

type GaugeField = Exclude<keyof NodeMetricsSnapshot, 'framesSentTotal' | 'framesNulledTotal'>;

/** Gauges: Lavalink's own metric names (its LavalinkStatsCollector) where it has one, so dashboards keep working. */
const GAUGES: ReadonlyArray<readonly [GaugeField, string, string]> = [
  ['players', 'lavalink_players_total', 'Total number of players connected.'],
  ['playingPlayers', 'lavalink_playing_players_total', 'Number of players currently playing audio.'],
  ['uptimeMs', 'lavalink_uptime_milliseconds', 'Uptime of the node in milliseconds.'],
  ['memoryFreeBytes', 'lavalink_memory_free_bytes', 'Memory statistics in bytes (Free).'],
  ['memoryUsedBytes', 'lavalink_memory_used_bytes', 'Memory statistics in bytes (Used).'],
  ['memoryAllocatedBytes', 'lavalink_memory_allocated_bytes', 'Memory statistics in bytes (Allocated).'],
  ['memoryReservableBytes', 'lavalink_memory_reservable_bytes', 'Memory statistics in bytes (Reservable).'],
  ['cpuCores', 'lavalink_cpu_cores', 'CPU statistics (Cores).'],
  ['systemLoad', 'lavalink_cpu_system_load_percentage', 'CPU statistics (System Load), 0 to 1.'],
  ['processLoad', 'lavalink_cpu_lavalink_load_percentage', 'CPU statistics (node process load), 0 to 1.'],
  ['frameDeficit', 'rxvoice_frame_deficit', 'Expected minus sent Opus frames over the last minute, average per player (Lavalink frameStats.deficit).'],
  ['pacingP99Ms', 'rxvoice_pacing_p99_milliseconds', '99th percentile of how late voice packets were sent over the last interval, in milliseconds.'],
];

/**
 * Creates the node's Prometheus metrics in a registry of their own.
 *
 * Gauges use Lavalink's names (`lavalink_players_total`, `lavalink_playing_players_total`,
 * `lavalink_uptime_milliseconds`, `lavalink_memory_*_bytes`, `lavalink_cpu_cores`,
 * `lavalink_cpu_system_load_percentage`, `lavalink_cpu_lavalink_load_percentage`) plus
 * `rxvoice_frame_deficit` and `rxvoice_pacing_p99_milliseconds`; counters
 * `rxvoice_frames_sent_total` and `rxvoice_frames_nulled_total`; and, unless turned off,
 * prom-client's default process metrics. All gauges start at 0.
 *
 * Source: Lavalink `metrics.prometheus` in application.yml; LavalinkStatsCollector;
 * websocket.md "Stats Object" for the meaning of each value.
 */
export function createNodeMetrics(options: NodeMetricsOptions = {}): NodeMetrics {
  const registry = new Registry();
  const gauges = new Map<GaugeField, Gauge>();
  for (const [field, name, help] of GAUGES) {
    const g = new Gauge({ name, help, registers: [registry] });
    g.set(0);
    gauges.set(field, g);
  }
  const sent = new Counter({ name: 'rxvoice_frames_sent_total', help: 'Opus frames sent to voice servers.', registers: [registry] });
  const nulled = new Counter({ name: 'rxvoice_frames_nulled_total', help: 'Frames with no audio to send (nulled).', registers: [registry] });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  let lastSent = 0;
  let lastNulled = 0;
  const advance = (counter: Counter, total: number, last: number): number => {
    if (!Number.isFinite(total) || total < 0) return last;
    // A total below the last one means the source restarted its count: it all is new.
    const delta = total >= last ? total - last : total;
    if (delta > 0) counter.inc(delta);
    return total;
  };

  return {
    registry,
    contentType: registry.contentType,
    update(snapshot) {
      for (const [field, gauge] of gauges) {
        const v = snapshot[field];
        if (v !== undefined && Number.isFinite(v)) gauge.set(v);
      }
      if (snapshot.framesSentTotal !== undefined) lastSent = advance(sent, snapshot.framesSentTotal, lastSent);
      if (snapshot.framesNulledTotal !== undefined) lastNulled = advance(nulled, snapshot.framesNulledTotal, lastNulled);
    },
    text: () => registry.metrics(),
  };
}
