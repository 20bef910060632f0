import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { WebSocket } from 'ws';
import { findFfmpeg } from '../../../src/sources/findFfmpeg';
import { createNodeMetrics } from '../../../src/server/lavalink/metrics';
import { startLavalinkNode } from '../../../src/server/lavalink/startLavalinkNode';
import { encodeTrack } from '../../../src/server/lavalink/trackCodec';
import { startVoiceServer } from '../../../src/testing';

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

describe('the node serves /metrics', () => {
  it('without authorization, fed with real numbers: players, frames sent, pacing p99, CPU, memory; 401 when off', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rxvoice-metrics-'));
    const file = path.join(dir, 'tone.mp3');
    execFileSync(findFfmpeg(), ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=4', '-ac', '2', '-ar', '48000', file]);
    const voice = await startVoiceServer();
    const node = await startLavalinkNode({ port: 0, address: '127.0.0.1', dave: false, metrics: true, sources: { local: true } });
    const off = await startLavalinkNode({ port: 0, address: '127.0.0.1', dave: false });
    const base = `http://127.0.0.1:${node.port}`;
    const user = '1300000000000000091';
    const guild = '1200000000000000091';
    const ws = new WebSocket(`ws://127.0.0.1:${node.port}/v4/websocket`, { headers: { Authorization: 'youshallnotpass', 'User-Id': user } });
    try {
      const sessionId = await new Promise<string>((resolve, reject) => {
        ws.on('message', (d) => {
          const m = JSON.parse(String(d)) as { op: string; sessionId?: string };
          if (m.op === 'ready' && m.sessionId) resolve(m.sessionId);
        });
        ws.on('error', reject);
      });
      const before = parse(await (await fetch(`${base}/metrics`)).text());
      expect(value(before, 'lavalink_players_total')).toBe(0);

      const creds = { serverId: guild, channelId: '1100000000000000091', userId: user, sessionId: 'metrics-voice', token: 'metrics-token' };
      voice.registerSession(creds);
      const encoded = encodeTrack({
        info: { identifier: file, isSeekable: true, author: 'rxvoice', length: 4000, isStream: false, position: 0, title: 'Tone', uri: file, artworkUrl: null, isrc: null, sourceName: 'local' },
      });
      const patch = await fetch(`${base}/v4/sessions/${sessionId}/players/${guild}`, {
        method: 'PATCH',
        headers: { Authorization: 'youshallnotpass', 'Content-Type': 'application/json' },
        body: JSON.stringify({ track: { encoded }, voice: { token: creds.token, endpoint: voice.wsUrl, sessionId: creds.sessionId, channelId: creds.channelId } }),
      });
      expect([patch.status, patch.status === 200 ? "" : await patch.text()]).toEqual([200, ""]);
      const end = Date.now() + 10_000;
      while ((voice.receivedFrom(user)?.frames ?? 0) < 100 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));

      const res = await fetch(`${base}/metrics`); // no Authorization: served anyway, as Lavalink does
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const f = parse(await res.text());
      expect(value(f, 'lavalink_players_total')).toBe(1);
      expect(value(f, 'lavalink_playing_players_total')).toBe(1);
      expect(value(f, 'rxvoice_frames_sent_total')).toBeGreaterThan(50);
      const p99 = value(f, 'rxvoice_pacing_p99_milliseconds')!;
      expect(p99).toBeGreaterThan(0);
      expect(p99).toBeLessThanOrEqual(100);
      expect(value(f, 'lavalink_cpu_cores')).toBeGreaterThan(0);
      expect(value(f, 'lavalink_memory_used_bytes')).toBeGreaterThan(0);
      expect(value(f, 'process_resident_memory_bytes')).toBeGreaterThan(0);

      // Off by default (as Lavalink): the path is an ordinary route, behind auth.
      expect((await fetch(`http://127.0.0.1:${off.port}/metrics`)).status).toBe(401);
    } finally {
      ws.close();
      await node.close();
      await off.close();
      await voice.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
