import { register as globalRegistry } from 'prom-client';
import { createNodeMetrics } from '../../../src/server/lavalink/metrics';

interface Family {
  help?: string;
  type?: string;
  samples: Array<{ name: string; labels: string; value: number }>;
}

/** A strict-enough parser of the Prometheus text format 0.0.4 (NaN in any case, as Prometheus' Go float parser takes it). */
function parse(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) families.set(name, (f = { samples: [] }));
    return f;
  };
  const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (m !== null) {
      family(m[1]).help = m[2];
      continue;
    }
    m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (m !== null) {
      family(m[1]).type = m[2];
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-]Inf)( \d+)?$/.exec(line);
    if (m === null) throw new Error(`not a Prometheus text line: ${JSON.stringify(line)}`);
    // A histogram's _bucket/_sum/_count samples belong to its family.
    const owner = names.find((n) => m![1] === n || (m![1].startsWith(n) && /^_(bucket|sum|count|total|created)$/.test(m![1].slice(n.length)))) ?? m[1];
    family(owner).samples.push({ name: m[1], labels: m[2] ?? '', value: Number(m[3]) });
  }
  return families;
}

function value(families: Map<string, Family>, name: string): number | undefined {
  return families.get(name)?.samples.find((s) => s.name === name)?.value;
}

describe('createNodeMetrics', () => {
  it('exposes parseable text with HELP and TYPE for every metric, Lavalink names for its gauges', async () => {
    const m = createNodeMetrics();
    m.update({
      players: 3,
      playingPlayers: 2,
      uptimeMs: 12345,
      framesSentTotal: 6000,
      framesNulledTotal: 10,
      frameDeficit: -3010,
      pacingP99Ms: 1.75,
      cpuCores: 8,
      systemLoad: 0.5,
      processLoad: 0.125,
      memoryFreeBytes: 1000,
      memoryUsedBytes: 2000,
      memoryAllocatedBytes: 3000,
      memoryReservableBytes: 4000,
    });
    const text = await m.text();
    const f = parse(text);
    for (const [name, fam] of f) {
      expect(fam.help).toBeDefined();
      expect(fam.type).toBeDefined();
      expect(name).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/);
    }
    expect(f.get('lavalink_players_total')?.type).toBe('gauge');
    expect(value(f, 'lavalink_players_total')).toBe(3);
    expect(value(f, 'lavalink_playing_players_total')).toBe(2);
    expect(value(f, 'lavalink_uptime_milliseconds')).toBe(12345);
    expect(value(f, 'lavalink_cpu_cores')).toBe(8);
    expect(value(f, 'lavalink_cpu_system_load_percentage')).toBe(0.5);
    expect(value(f, 'lavalink_cpu_lavalink_load_percentage')).toBe(0.125);
    expect(value(f, 'lavalink_memory_used_bytes')).toBe(2000);
    expect(value(f, 'lavalink_memory_reservable_bytes')).toBe(4000);
    expect(f.get('rxvoice_frames_sent_total')?.type).toBe('counter');
    expect(value(f, 'rxvoice_frames_sent_total')).toBe(6000);
    expect(value(f, 'rxvoice_frames_nulled_total')).toBe(10);
    expect(value(f, 'rxvoice_frame_deficit')).toBe(-3010);
    expect(value(f, 'rxvoice_pacing_p99_milliseconds')).toBe(1.75);
    // prom-client's default process metrics: CPU and memory of this process.
    expect(f.get('process_cpu_seconds_total')?.type).toBe('counter');
    expect(value(f, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('advances counters by the increase of running totals; absent fields keep their value', async () => {
    const m = createNodeMetrics({ defaultMetrics: false });
    m.update({ framesSentTotal: 100, players: 1 });
    m.update({ framesSentTotal: 250 });
    m.update({ framesSentTotal: 240 }); // a restarted count: 240 new frames
    const f = parse(await m.text());
    expect(value(f, 'rxvoice_frames_sent_total')).toBe(490);
    expect(value(f, 'lavalink_players_total')).toBe(1);
    expect(value(f, 'rxvoice_frames_nulled_total')).toBe(0);
    expect(f.has('process_cpu_seconds_total')).toBe(false);
  });

  it('keeps its own registry: two nodes do not clash and the global registry stays clean', async () => {
    const a = createNodeMetrics({ defaultMetrics: false });
    const b = createNodeMetrics({ defaultMetrics: false });
    a.update({ players: 5 });
    b.update({ players: 7 });
    expect(value(parse(await a.text()), 'lavalink_players_total')).toBe(5);
    expect(value(parse(await b.text()), 'lavalink_players_total')).toBe(7);
    expect(globalRegistry.getSingleMetric('lavalink_players_total')).toBeUndefined();
  });

  it('ignores non-finite readings', async () => {
    const m = createNodeMetrics({ defaultMetrics: false });
    m.update({ players: 2, framesSentTotal: 10 });
    m.update({ players: Number.NaN, framesSentTotal: Number.POSITIVE_INFINITY });
    const f = parse(await m.text());
    expect(value(f, 'lavalink_players_total')).toBe(2);
    expect(value(f, 'rxvoice_frames_sent_total')).toBe(10);
  });
});
